/* tools/kvbm/hash_cmd.c - `kvbm hash`: print the hashes of every complete block of a token
 * list: position, block hash, sequence hash (seq64) as unsigned decimal, PLH as 32 hex digits. */
#include <ctype.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvbm/tokens.h"
#include "commands.h"
#include "options.h"
#include "util.h"

/* Read whitespace- or comma-separated tokens from stdin (all of it, then parse). */
static int read_stdin_tokens(uint32_t **tok, size_t *n, size_t *cap)
{
    char *buf = NULL, err[256];
    size_t len = 0, bcap = 0;
    for (;;) {
        if (cli_grow((void **)&buf, &bcap, len + 4096, 1) != 0) {
            free(buf);
            return cli_errorf(-1, "out of memory");
        }
        size_t got = fread(buf + len, 1, bcap - len, stdin);
        len += got;
        if (got == 0) break;
    }
    int rc = ferror(stdin) ? cli_fail(err, sizeof err, "cannot read stdin")
                           : cli_hash_parse_tokens(buf, len, tok, n, cap, err, sizeof err);
    free(buf);
    return rc != 0 ? cli_errorf(-1, "%s", err) : 0;
}

typedef struct hash_opts {
    uint64_t  bs, salt;
    uint32_t *tok;
    size_t    n, cap;
} hash_opts;

#define H (&cli_hash_command)

static int set_block_size(void *opts, const char *v)
{
    uint64_t *bs = &((hash_opts *)opts)->bs;
    if (cli_parse_u64(v, 1024, bs) != 0 || *bs == 0 || (*bs & (*bs - 1)) != 0)
        return cli_usage_error(H, "--block-size must be a power of 2 between 1 and 1024, got '%s'", v);
    return 0;
}

static int add_token(void *opts, const char *a)
{
    hash_opts *o = opts;
    uint64_t t;
    if (cli_parse_u64(a, UINT32_MAX, &t) != 0)
        return cli_usage_error(H, "bad token '%s' (tokens are integers in 0..4294967295)", a);
    if (cli_grow((void **)&o->tok, &o->cap, o->n + 1, sizeof *o->tok) != 0)
        return cli_errorf(CLI_EXIT_ERROR, "out of memory");
    o->tok[o->n++] = (uint32_t)t;
    return 0;
}

static const cli_option hash_options[] = {
    { "--block-size", NULL, "N", "tokens per block, power of 2 in 1..1024 (default 16)",
      CLI_OPT_FN, 0, 0, 0, set_block_size },
    { "--salt", NULL, "S", "block-hash seed, unsigned 64-bit (default 0)",
      CLI_OPT_U64, offsetof(hash_opts, salt), 0, UINT64_MAX, NULL },
};

const cli_command cli_hash_command = {
    "hash", "[--block-size N] [--salt S] [--] [TOKEN...]",
    "hashes of token blocks (block hash, sequence hash, PLH)",
    "Prints one line per complete block: position block_hash sequence_hash plh\n"
    "(hashes as unsigned decimal, the PLH as 32 hex digits). Trailing tokens that do\n"
    "not fill a block are not hashed; a note on stderr says how many. Without TOKEN\n"
    "arguments tokens are read from stdin (separated by white space or commas).",
    hash_options, sizeof hash_options / sizeof hash_options[0], add_token, cli_cmd_hash,
};

int cli_cmd_hash(int argc, char **argv)
{
    hash_opts o = { 16, 0, NULL, 0, 0 };
    bool help;
    int rc = cli_parse_options(H, argc, argv, &o, &help);
    if (rc != 0 || help) {
        if (help) cli_print_help(H, stdout);
        free(o.tok);
        return rc;
    }
    uint64_t bs = o.bs, salt = o.salt;
    uint32_t *tok = o.tok;
    size_t n = o.n, cap = o.cap;
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
        cli_errorf(0, "%zu trailing token%s do%s not fill a block of %llu (not hashed)",
                   (size_t)(n % bs), n % bs == 1 ? "" : "s", n % bs == 1 ? "es" : "",
                   (unsigned long long)bs);
    rc = fflush(stdout) == 0 ? CLI_EXIT_OK : cli_errorf(CLI_EXIT_ERROR, "cannot write output");
out:
    free(tok);
    return rc;
}
