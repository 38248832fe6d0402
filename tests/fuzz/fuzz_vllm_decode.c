/* tests/fuzz/fuzz_vllm_decode.c - libFuzzer target: the vLLM KVEventBatch decoder
 * (kvbm_vllm_batch_decode, src/ext/vllm). The first byte picks the options (digest hashes
 * accepted or not) and whether the decode space is roomy or tight; any input yields OK,
 * EPROTO, EUNSUPPORTED or EOVERFLOW. An accepted batch renders as JSON, every event
 * converts to a router event, and its map-form (and, when encodable, array-form) encoding
 * decodes to a batch that encodes to the same bytes (the encodings are canonical). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvbm/vllm_events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 4096
struct space {
    kvbm_vllm_event        ev[CAP];
    uint64_t               u64[CAP];
    uint32_t               tok[CAP];
    kvbm_vllm_block_mm     bmm[CAP];
    kvbm_router_mm_object  mmo[CAP];
    char                   chars[CAP];
};
static struct space             s0, s1;
static uint8_t                  enc[2][1 << 18];
static char                     json[1 << 20];
static kvbm_router_stored_block blocks[CAP];

static kvbm_vllm_decode_space space_of(struct space *s, size_t cap)
{
    return (kvbm_vllm_decode_space){ s->ev, cap, s->u64, cap, s->tok, cap, s->bmm, cap, s->mmo, cap, s->chars, cap };
}

/* encode @b in @form, decode, re-encode: same bytes */
static void canonical(const kvbm_vllm_batch *b, kvbm_vllm_form form)
{
    size_t n0 = 0, n1 = 0;
    kvbm_status st = kvbm_vllm_batch_encode(b, form, enc[0], sizeof enc[0], &n0);
    if (st == KVBM_EUNSUPPORTED && form == KVBM_VLLM_FORM_ARRAY) return; /* MM + group */
    if (st != KVBM_OK) abort();
    kvbm_vllm_decode_space sp = space_of(&s1, CAP);
    kvbm_vllm_decode_options o = { KVBM_VLLM_DECODE_DIGEST_LOW64 };
    kvbm_vllm_batch b2;
    if (kvbm_vllm_batch_decode(enc[0], n0, &o, &b2, &sp) != KVBM_OK) abort();
    if (kvbm_vllm_batch_encode(&b2, form, enc[1], sizeof enc[1], &n1) != KVBM_OK) abort();
    if (n0 != n1 || memcmp(enc[0], enc[1], n0) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    kvbm_vllm_decode_options o = { data[0] & 1 ? KVBM_VLLM_DECODE_DIGEST_LOW64 : 0 };
    kvbm_vllm_decode_space sp = space_of(&s0, data[0] & 2 ? 3 : CAP);
    kvbm_vllm_batch b;
    kvbm_status st = kvbm_vllm_batch_decode(data + 1, size - 1, &o, &b, &sp);
    if (st == KVBM_EPROTO || st == KVBM_EOVERFLOW || st == KVBM_EUNSUPPORTED) return 0;
    if (st != KVBM_OK) abort();
    size_t jn = 0;
    if (kvbm_vllm_batch_to_json(&b, json, sizeof json, &jn) != KVBM_OK || strlen(json) != jn) abort();
    for (size_t i = 0; i < b.n_events; i++) {
        kvbm_router_event r;
        bool emitted;
        size_t dropped;
        if (kvbm_vllm_event_to_router(&b.events[i], 1, 0, i, 0, &r, blocks, CAP, &emitted, &dropped) != KVBM_OK)
            abort();
        if (emitted != !b.events[i].ignored) abort();
    }
    canonical(&b, KVBM_VLLM_FORM_MAP);
    canonical(&b, KVBM_VLLM_FORM_ARRAY);
    return 0;
}
