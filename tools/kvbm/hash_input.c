/* tools/kvbm/hash_input.c - the token input of `kvbm hash` (stdin text), parsed from a
 * buffer: shared by the command and its fuzz target (tests/fuzz/fuzz_hash_input.c). */
#include <ctype.h>
#include <stdio.h>

#include "commands.h"
#include "util.h"

int cli_hash_parse_tokens(const char *buf, size_t len, uint32_t **tok, size_t *n, size_t *cap,
                           char *err, size_t errlen)
{
    char word[32];
    size_t wl = 0;
    for (size_t i = 0; i <= len; i++) {
        int ch = i < len ? (unsigned char)buf[i] : EOF;
        if (ch == '\0') return cli_fail(err, errlen, "NUL byte in the token input (offset %zu)", i);
        if (ch != EOF && !isspace(ch) && ch != ',') {
            if (wl + 1 >= sizeof word) return cli_fail(err, errlen, "token too long on stdin");
            word[wl++] = (char)ch;
            continue;
        }
        if (wl == 0) continue;
        word[wl] = '\0';
        wl = 0;
        uint64_t v;
        if (cli_parse_u64(word, UINT32_MAX, &v) != 0)
            return cli_fail(err, errlen, "bad token '%s' on stdin (expected an integer in 0..4294967295)", word);
        if (cli_grow((void **)tok, cap, *n + 1, sizeof **tok) != 0)
            return cli_fail(err, errlen, "out of memory");
        (*tok)[(*n)++] = (uint32_t)v;
    }
    return 0;
}
