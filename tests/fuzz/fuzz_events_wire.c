/* tests/fuzz/fuzz_events_wire.c - libFuzzer target for the KV-event wire decoders
 * (kvbm/events_wire.h): msgpack (kvbm_events_wire_decode) and JSON
 * (kvbm_events_batch_from_json, kvbm_events_event_from_json). Every input must yield a
 * status - never a crash, a sanitizer report or an allocation beyond a small multiple
 * of the input - and whatever decodes must re-encode and decode to the same batch.
 *
 * Built and run like every target here (scripts/fuzz.sh, tests/fuzz/README.md); seeds in
 * tests/fuzz/corpus/events_wire/ (the spec 20 §3.6 vectors, the tolerated forms, JSON).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvbm/events_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kvbm_events_decoded d = KVBM_EVENTS_DECODED_INIT, d2 = KVBM_EVENTS_DECODED_INIT;
    if (kvbm_events_wire_decode(data, size, &d) == KVBM_OK) {
        size_t len = 0;
        /* a decoded Create/Remove may be empty, which the encoder refuses: skip those */
        if (d.batch.kind == KVBM_EVENT_SHUTDOWN || d.batch.n > 0) {
            size_t cap = 64 + d.batch.n * 18;
            uint8_t *buf = malloc(cap);
            if (buf == NULL) return 0;
            if (kvbm_events_wire_encode(&d.batch, buf, cap, &len) != KVBM_OK) abort();
            if (kvbm_events_wire_decode(buf, len, &d2) != KVBM_OK) abort();
            if (d2.batch.kind != d.batch.kind || d2.batch.n != d.batch.n ||
                memcmp(&d2.batch.instance_id, &d.batch.instance_id, sizeof d.batch.instance_id) != 0 ||
                (d.batch.n > 0 && memcmp(d2.batch.hashes, d.batch.hashes, d.batch.n * sizeof(kvbm_plh)) != 0))
                abort();
            free(buf);
        }
    }
    (void)kvbm_events_batch_from_json((const char *)data, size, &d);
    kvbm_event e;
    (void)kvbm_events_event_from_json((const char *)data, size, &e);
    return 0;
}
