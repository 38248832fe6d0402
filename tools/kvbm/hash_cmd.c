/* tools/kvbm/hash_cmd.c - `kvbm hash`: print the hashes of every complete block of a token
 * list: position, block hash, sequence hash (seq64) as unsigned decimal, PLH as 32 hex digits. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvbm/tokens.h"
#include "commands.h"
#include "util.h"

/* Read whitespace- or comma-separated tokens from stdin. */
static int read_stdin_tokens(uint32_t **tok, size_t *n, size_t *cap)
{
    char word[32];
    size_t wl = 0;
    int ch;
    do {
        ch = getchar();
        if (ch != EOF && !isspace(ch) && ch != ',') {
            if (wl + 1 >= sizeof word) return cli_errorf(-1, "token too long on stdin");
            word[wl++] = (char)ch;
            continue;
        }
        if (wl == 0) continue;
        word[wl] = '\0';
        wl = 0;
        uint64_t v;
        if (cli_parse_u64(word, UINT32_MAX, &v) != 0)
            return cli_errorf(-1, "bad token '%s' on stdin (expected an integer in 0..4294967295)", word);
        if (cli_grow((void **)tok, cap, *n + 1, sizeof **tok) != 0)
            return cli_errorf(-1, "out of memory");
        (*tok)[(*n)++] = (uint32_t)v;
    } while (ch != EOF);
    return 0;
}

int cli_cmd_hash(int argc, char **argv)
{
    uint64_t bs = 16, salt = 0;
    uint32_t *tok = NULL;
    size_t n = 0, cap = 0;
    int rc = CLI_EXIT_USAGE;
    bool positional_only = false;
    for (int i = 1; i < argc; i++) {
        const char *v;
        const char *a = argv[i];
        if (!positional_only && strcmp(a, "--") == 0) { positional_only = true; continue; }
        if (!positional_only && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            cli_usage_hash();
            rc = CLI_EXIT_OK;
            goto out;
        }
        if (!positional_only && cli_opt_value(argv, argc, &i, "--block-size", &v)) {
            if (v == NULL || cli_parse_u64(v, 1024, &bs) != 0 || bs == 0 || (bs & (bs - 1)))
                { cli_errorf(0, "--block-size must be a power of 2 between 1 and 1024, got '%s'", v ? v : ""); goto out; }
            continue;
        }
        if (!positional_only && cli_opt_value(argv, argc, &i, "--salt", &v)) {
            if (v == NULL || cli_parse_u64(v, UINT64_MAX, &salt) != 0)
                { cli_errorf(0, "--salt must be an unsigned 64-bit integer, got '%s'", v ? v : ""); goto out; }
            continue;
        }
        if (!positional_only && a[0] == '-' && a[1] != '\0') {
            cli_errorf(0, "hash: unknown option '%s' (see 'kvbm help hash')", a);
            goto out;
        }
        uint64_t t;
        if (cli_parse_u64(a, UINT32_MAX, &t) != 0) {
            cli_errorf(0, "bad token '%s' (tokens are integers in 0..4294967295)", a);
            goto out;
        }
        if (cli_grow((void **)&tok, &cap, n + 1, sizeof *tok) != 0) {
            rc = cli_errorf(CLI_EXIT_ERROR, "out of memory");
            goto out;
        }
        tok[n++] = (uint32_t)t;
    }
    if (n == 0 && read_stdin_tokens(&tok, &n, &cap) != 0) { rc = CLI_EXIT_ERROR; goto out; }
    size_t nb = n / bs;
    if (nb > 0) {
        uint64_t *bh = malloc(nb * sizeof *bh), *sq = malloc(nb * sizeof *sq);
        kvbm_plh *plh = malloc(nb * sizeof *plh);
        size_t got = 0;
        kvbm_status st = KVBM_ENOMEM;
        if (bh && sq && plh)
            st = kvbm_tokens_hash_blocks(tok, n, (uint32_t)bs, salt, NULL, bh, sq, plh, nb, &got);
        if (st == KVBM_OK) {
            char hex[KVBM_PLH_HEX_LEN];
            for (size_t i = 0; i < got; i++)
                printf("%zu %" PRIu64 " %" PRIu64 " %s\n", i, bh[i], sq[i], kvbm_plh_to_hex(plh[i], hex));
        }
        free(bh); free(sq); free(plh);
        if (st != KVBM_OK) { rc = cli_errorf(CLI_EXIT_ERROR, "hashing failed: %s", kvbm_strerror(st)); goto out; }
    }
    if (n % bs != 0)
        fprintf(stderr, "kvbm: %zu trailing token%s do%s not fill a block of %llu (not printed)\n",
                (size_t)(n % bs), n % bs == 1 ? "" : "s", n % bs == 1 ? "es" : "",
                (unsigned long long)bs);
    rc = fflush(stdout) == 0 ? CLI_EXIT_OK : cli_errorf(CLI_EXIT_ERROR, "cannot write output");
out:
    free(tok);
    return rc;
}
