/* tests/fuzz/fuzz_router_decode.c - libFuzzer target: the Dynamo router msgpack decoders
 * (src/ext/router): RouterEvent (kvbm_router_event_decode), and the same bytes through the
 * KvCacheEvents, PlacementEvent and WorkerWithDpRank decoders. Any input yields OK, EPROTO
 * or EOVERFLOW; an accepted value encodes, and decoding that encoding gives a value that
 * encodes to the same bytes (the encodings are canonical). */
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
static uint8_t                  enc[2][1 << 16];
static char                     json[1 << 18];

static kvbm_router_event batch[2][CAP];

static void other_decoders(const uint8_t *data, size_t size)
{
    kvbm_router_decode_space sp0 = { blocks[0], CAP, mm[0], CAP, u64[0], 4 * CAP };
    kvbm_router_decode_space sp1 = { blocks[1], CAP, mm[1], CAP, u64[1], 4 * CAP };
    size_t n0 = 0, n1 = 0, k0 = 0, k1 = 0;
    bool s0 = false, s1 = false;
    kvbm_status st = kvbm_router_batch_decode(data, size, batch[0], CAP, &k0, &s0, &sp0);
    if (st == KVBM_OK) {
        if (kvbm_router_batch_encode(batch[0], k0, s0, enc[0], sizeof enc[0], &n0) != KVBM_OK) abort();
        if (kvbm_router_batch_decode(enc[0], n0, batch[1], CAP, &k1, &s1, &sp1) != KVBM_OK) abort();
        if (kvbm_router_batch_encode(batch[1], k1, s1, enc[1], sizeof enc[1], &n1) != KVBM_OK) abort();
        if (n0 != n1 || memcmp(enc[0], enc[1], n0) != 0) abort();
    } else if (st != KVBM_EPROTO && st != KVBM_EOVERFLOW) {
        abort();
    }
    kvbm_router_placement_event pe[2];
    st = kvbm_router_placement_event_decode(data, size, &pe[0], &sp0);
    if (st == KVBM_OK) {
        if (kvbm_router_placement_event_encode(&pe[0], enc[0], sizeof enc[0], &n0) != KVBM_OK) abort();
        if (kvbm_router_placement_event_decode(enc[0], n0, &pe[1], &sp1) != KVBM_OK) abort();
        if (kvbm_router_placement_event_encode(&pe[1], enc[1], sizeof enc[1], &n1) != KVBM_OK) abort();
        if (n0 != n1 || memcmp(enc[0], enc[1], n0) != 0) abort();
    } else if (st != KVBM_EPROTO && st != KVBM_EOVERFLOW) {
        abort();
    }
    kvbm_router_worker w;
    st = kvbm_router_worker_decode(data, size, &w);
    if (st == KVBM_OK) {
        if (kvbm_router_worker_encode(&w, enc[0], sizeof enc[0], &n0) != KVBM_OK) abort();
    } else if (st != KVBM_EPROTO) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0) other_decoders(data, size);
    kvbm_router_decode_space sp0 = { blocks[0], CAP, mm[0], CAP, u64[0], 4 * CAP };
    kvbm_router_decode_space sp1 = { blocks[1], CAP, mm[1], CAP, u64[1], 4 * CAP };
    kvbm_router_event ev, ev2;
    kvbm_status st = kvbm_router_event_decode(size ? data : (const uint8_t *)"", size, &ev, &sp0);
    if (st == KVBM_EPROTO || st == KVBM_EOVERFLOW) return 0;
    if (st != KVBM_OK) abort();
    size_t n0 = 0, n1 = 0, jn = 0;
    if (kvbm_router_event_encode(&ev, enc[0], sizeof enc[0], &n0) != KVBM_OK) abort();
    if (kvbm_router_event_to_json(&ev, json, sizeof json, &jn) != KVBM_OK || strlen(json) != jn) abort();
    if (kvbm_router_event_decode(enc[0], n0, &ev2, &sp1) != KVBM_OK) abort();
    if (kvbm_router_event_encode(&ev2, enc[1], sizeof enc[1], &n1) != KVBM_OK) abort();
    if (n0 != n1 || memcmp(enc[0], enc[1], n0) != 0) abort();
    return 0;
}
