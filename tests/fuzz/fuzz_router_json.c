/* tests/fuzz/fuzz_router_json.c - libFuzzer target: the Dynamo RouterEvent JSON decoder
 * (kvbm_router_event_from_json, src/ext/router, json-c). Any input yields OK, EPROTO or
 * EOVERFLOW; an accepted event renders as canonical JSON that decodes again to an event
 * rendering identically, and encodes to msgpack that the msgpack decoder accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvbm/router_events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 64
static kvbm_router_stored_block blocks[2][CAP];
static kvbm_router_mm_object    mm[2][CAP];
static uint64_t                 u64[2][4 * CAP];
static uint8_t                  enc[1 << 16];
static char                     json[2][1 << 18];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kvbm_router_decode_space sp0 = { blocks[0], CAP, mm[0], CAP, u64[0], 4 * CAP };
    kvbm_router_decode_space sp1 = { blocks[1], CAP, mm[1], CAP, u64[1], 4 * CAP };
    kvbm_router_event ev, ev2;
    kvbm_status st = kvbm_router_event_from_json(size ? (const char *)data : "", size, &ev, &sp0);
    if (st == KVBM_EPROTO || st == KVBM_EOVERFLOW) return 0;
    if (st != KVBM_OK) abort();
    size_t j0 = 0, j1 = 0, n = 0;
    if (kvbm_router_event_to_json(&ev, json[0], sizeof json[0], &j0) != KVBM_OK) abort();
    if (kvbm_router_event_from_json(json[0], j0, &ev2, &sp1) != KVBM_OK) abort();
    if (kvbm_router_event_to_json(&ev2, json[1], sizeof json[1], &j1) != KVBM_OK) abort();
    if (j0 != j1 || memcmp(json[0], json[1], j0) != 0) abort();
    if (kvbm_router_event_encode(&ev, enc, sizeof enc, &n) != KVBM_OK) abort();
    if (kvbm_router_event_decode(enc, n, &ev2, &sp1) != KVBM_OK) abort();
    return 0;
}
