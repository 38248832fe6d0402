/* tests/fuzz/fuzz_hash_input.c - libFuzzer target: the token input of `kvbm hash`
 * (cli_hash_parse_tokens), then the bulk block hasher over what it accepted. First byte:
 * block size 2^(b % 11); the rest is the stdin text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "commands.h"
#include "kvbm/tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    uint32_t bs = UINT32_C(1) << (data[0] % 11);
    uint32_t *tok = NULL;
    size_t n = 0, cap = 0;
    char err[256];
    int rc = cli_hash_parse_tokens((const char *)data + 1, size - 1, &tok, &n, &cap, err, sizeof err);
    if (rc == 0 && n >= bs) {
        size_t nb = n / bs, got = 0;
        uint64_t *bh = malloc(nb * sizeof *bh), *sq = malloc(nb * sizeof *sq);
        kvbm_plh *plh = malloc(nb * sizeof *plh);
        if (bh && sq && plh &&
            (kvbm_tokens_hash_blocks(tok, n, bs, 0, NULL, bh, sq, plh, nb, &got) != KVBM_OK || got != nb))
            abort();
        free(bh); free(sq); free(plh);
    }
    free(tok);
    return 0;
}
