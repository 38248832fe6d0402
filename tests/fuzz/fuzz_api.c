/* tests/fuzz/fuzz_api.c - libFuzzer target: random API sequences (tests/support/api_driver)
 * over two managers sharing one registry, the invariant check among the operations and a
 * full check at the end (every block back, gauges 0, counters equal to the calls). The
 * first byte picks the backend pair and the duplication policies; each further byte
 * chooses an operation or one of its parameters. Any contract violation aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "support/api_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *file, int line, const char *msg)
{
    fprintf(stderr, "fuzz_api: %s:%d: %s\n", file, line, msg);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 4096) return 0;
    static const kvbm_backend be[5] = { KVBM_BACKEND_LINEAGE, KVBM_BACKEND_LRU, KVBM_BACKEND_MULTI_LRU,
                                        KVBM_BACKEND_HASHMAP, KVBM_BACKEND_LINEAGE };
    drv_world w;
    if (drv_world_init(&w, be[data[0] % 5], be[(data[0] / 5) % 5], 8 + (data[0] & 7), data[0] >> 6, fuzz_fail) != 0) {
        drv_world_fini(&w);
        return 0;
    }
    drv_actor a;
    drv_actor_init(&a, &w, 0, 0, data + 1, size - 1);
    while (drv_step(&a)) {}
    drv_actor_release_all(&a);
    drv_world_final(&w);
    drv_world_fini(&w);
    return 0;
}
