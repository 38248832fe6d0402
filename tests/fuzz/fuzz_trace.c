/* tests/fuzz/fuzz_trace.c - libFuzzer target: the Mooncake trace reader (cli_trace_parse).
 * First byte: error mode (stop/skip); the rest is the file. On success the trace must be
 * well formed (offsets monotonic, ids within bounds); on error nothing may leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    cli_trace_on_error oe = (data[0] & 1) ? CLI_TRACE_SKIP : CLI_TRACE_STOP;
    cli_trace t;
    char err[256];
    if (cli_trace_parse("fuzz.jsonl", (const char *)data + 1, size - 1, oe, NULL, &t, err, sizeof err) != 0)
        return 0;
    if (t.n_requests == 0 || t.offsets[0] != 0) abort();
    for (size_t i = 0; i < t.n_requests; i++) {
        if (t.offsets[i + 1] < t.offsets[i]) abort();
        if (t.offsets[i + 1] - t.offsets[i] > t.max_len) abort();
    }
    cli_trace_free(&t);
    return 0;
}
