/* src/ext/vllm/stub.c - TEMPORARY: entry points of kvbm/vllm_events.h until the codec lands. */
#include "internal.h"
#include "kvbm/vllm_events.h"

const char *kvbm_vllm_event_type_name(kvbm_vllm_event_type t)
{
    switch (t) {
    case KVBM_VLLM_BLOCK_STORED: return "BlockStored";
    case KVBM_VLLM_BLOCK_REMOVED: return "BlockRemoved";
    case KVBM_VLLM_ALL_BLOCKS_CLEARED: return "AllBlocksCleared";
    }
    return NULL;
}

#define STUB(fn) do { kvbm__set_error("%s: not implemented yet", fn); return KVBM_EUNSUPPORTED; } while (0)

kvbm_status kvbm_vllm_batch_encode(const kvbm_vllm_batch *b, kvbm_vllm_form f, uint8_t *buf, size_t cap, size_t *len)
{
    (void)b; (void)f; (void)buf; (void)cap; (void)len;
    STUB("kvbm_vllm_batch_encode");
}

kvbm_status kvbm_vllm_batch_decode(const uint8_t *buf, size_t len, const kvbm_vllm_decode_options *o,
                                   kvbm_vllm_batch *out, const kvbm_vllm_decode_space *s)
{
    (void)buf; (void)len; (void)o; (void)out; (void)s;
    STUB("kvbm_vllm_batch_decode");
}

kvbm_status kvbm_vllm_batch_to_json(const kvbm_vllm_batch *b, char *buf, size_t cap, size_t *len)
{
    (void)b; (void)buf; (void)cap; (void)len;
    STUB("kvbm_vllm_batch_to_json");
}

kvbm_status kvbm_vllm_event_to_router(const kvbm_vllm_event *ev, uint64_t w, uint32_t dp, uint64_t id, uint32_t kbs,
                                      kvbm_router_event *out, kvbm_router_stored_block *bl, size_t cap, bool *em,
                                      size_t *dr)
{
    (void)ev; (void)w; (void)dp; (void)id; (void)kbs; (void)out; (void)bl; (void)cap; (void)em; (void)dr;
    STUB("kvbm_vllm_event_to_router");
}
