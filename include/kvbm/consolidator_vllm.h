/* kvbm/consolidator_vllm.h - the consolidator's vLLM-facing ends (spec 20 §4.3.1, §4.3.4):
 * applying decoded vLLM KV-event batches to a tracker (ingress rules), and the egress that
 * drains a tracker into vLLM-format batches for a Dynamo router.
 * Library: libkvbm_consolidator (needs libkvbm_vllm, kvbm/vllm_events.h).
 *
 * Egress (§4.3.4): drained events are sorted by kvbm_cons_events_sort_egress, then one
 * vLLM event per block: STORE -> BlockStored{block_hashes: [router_block_hash(plh)],
 * parent_block_hash: router_parent_hash(plh) (nil at position 0), token_ids (values above
 * INT32_MAX clamped to it, with a warning), block_size (clamped likewise), lora_name,
 * medium nil}; REMOVE -> BlockRemoved{[router_block_hash(plh)]}; CLEAR_ALL ->
 * AllBlocksCleared. One batch [ts, events, 0] (dp_rank always 0), encoded in vLLM's array
 * form through kvbm_vllm_batch_encode (docs/DESIGN.md "Interop": with no LoRA the events
 * are [tag, [hash], parent|nil, [tokens], block_size]; a LoRA name goes to index 7 with
 * lora_id nil at 5 and medium nil at 6).
 * Sequence numbers: each kvbm_cons_egress counts the batches it encoded, from 0; a number
 * is consumed when a non-empty batch is encoded, before anyone sends it (a failed send
 * still consumes it), as the frames ["", seq BE8, payload] of §4.2.1 require.
 */
#ifndef KVBM_CONSOLIDATOR_VLLM_H
#define KVBM_CONSOLIDATOR_VLLM_H

#include "kvbm/consolidator_tracker.h"
#include "kvbm/vllm_events.h"
#include "kvbm/vllm_pub.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- ingress (§4.3.1) -------------------------------------------------------------- */

/** What kvbm_cons_tracker_apply_vllm did with a batch (all counts add up over calls). */
typedef struct kvbm_cons_apply_stats {
    uint64_t events;          /* events seen */
    uint64_t skipped;         /* events skipped whole: ignored group, block_size 0, Eagle,
                                 MM info, chunk count != hash count */
    uint64_t blocks_stored;   /* handle_store calls that succeeded */
    uint64_t blocks_rejected; /* handle_store calls that recorded nothing (short chunk, ...) */
    uint64_t blocks_removed;  /* handle_remove calls that matched */
    uint64_t unknown_removes; /* handle_remove calls for unknown hashes */
    uint64_t clears;
} kvbm_cons_apply_stats;

/**
 * kvbm_cons_tracker_apply_vllm() - apply every event of a decoded batch to @t as engine
 * @source (vllm or trtllm), in order (§4.3.1): BlockStored is skipped when ignored, with
 * block_size 0, Eagle token ids, any MM info, or when the token ids chunked by block_size
 * (the last chunk may be short) do not give one chunk per hash; otherwise block i is
 * handle_store(source, hash[i], parent = the event's parent for i = 0 else hash[i-1],
 * chunk i, block_size, lora_name) - a short chunk records nothing (warning). BlockRemoved:
 * handle_remove per hash (unknown hashes: warning, counted). AllBlocksCleared: clear_all.
 * @stats: optional, counts ADDED to it.
 * Returns KVBM_OK (also when events were skipped or rejected); KVBM_EINVAL (NULL, not an
 * engine source); KVBM_ENOMEM (stops at that block: earlier ones are applied).
 * Threads: as the tracker calls (any; the tracker lock is taken per block).
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_cons_tracker_apply_vllm(kvbm_cons_tracker *t, kvbm_cons_source source, const kvbm_vllm_batch *batch,
                             kvbm_cons_apply_stats *stats);

/* ---- egress (§4.3.4) --------------------------------------------------------------- */

typedef struct kvbm_cons_egress kvbm_cons_egress;

/** Create an egress (next sequence number 0). KVBM_EINVAL, KVBM_ENOMEM. Destroy with
 *  kvbm_cons_egress_destroy (NULL: no-op). One thread at a time per egress. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_cons_egress_create(kvbm_cons_egress **out);
KVBM_API void kvbm_cons_egress_destroy(kvbm_cons_egress *eg);

/**
 * kvbm_cons_egress_encode() - sort @ev for egress (in place) and encode it as ONE batch.
 * @ts: batch timestamp in seconds since the epoch; negative or NaN = now (CLOCK_REALTIME).
 * @payload, @len: receive the encoded batch, owned by @eg, valid until its next call;
 *   an empty @ev gives *@len = 0 and consumes no sequence number.
 * @seq: optional; receives the batch's sequence number.
 * Returns KVBM_OK; KVBM_EINVAL (NULL); KVBM_ENOMEM (no number consumed); an encoder error
 * (kvbm_vllm_batch_encode, message kept; no number consumed). Never allocates once its
 * buffers have grown to the batch sizes seen.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_cons_egress_encode(kvbm_cons_egress *eg, kvbm_cons_events *ev, double ts, const uint8_t **payload,
                        size_t *len, uint64_t *seq);

/**
 * kvbm_cons_egress_drain() - kvbm_cons_tracker_drain(@t) into @eg's own event list, then
 * kvbm_cons_egress_encode() of it: one poll tick of the consolidator. *@len = 0 when
 * nothing was queued. Same returns as kvbm_cons_egress_encode. The drained events are
 * gone from the tracker even if encoding fails (they are lost: a later CLEAR_ALL or the
 * router's resync repairs the router's view; the failure is returned).
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_cons_egress_drain(kvbm_cons_egress *eg, kvbm_cons_tracker *t, double ts, const uint8_t **payload,
                       size_t *len, uint64_t *seq);

/**
 * kvbm_cons_egress_publish() - kvbm_cons_egress_drain() and, when a batch came out, send it
 * through @pub (kvbm_vllm_pub_send_payload: frames ["<topic>", seq BE8, payload]). The
 * number on the wire is the publisher's (*@seq receives it); it equals the egress's own
 * count as long as every batch of @eg goes to @pub and nothing else does. Nothing queued:
 * KVBM_OK, nothing sent, *@sent false.
 * @sent, @seq: optional. Returns as kvbm_cons_egress_drain, or the publisher's error
 * (KVBM_EIO: refused by the socket, its number used; KVBM_ENOMEM). Threads: one per @eg;
 * @pub may be shared (its sends are serialised).
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_cons_egress_publish(kvbm_cons_egress *eg, kvbm_cons_tracker *t, kvbm_vllm_pub *pub, double ts, bool *sent,
                         uint64_t *seq);

/** The sequence number the next non-empty batch gets. */
KVBM_API uint64_t kvbm_cons_egress_next_seq(const kvbm_cons_egress *eg);

/** Counters since creation. */
typedef struct kvbm_cons_egress_stats {
    uint64_t batches;        /* non-empty batches encoded */
    uint64_t events;         /* vLLM events written */
    uint64_t clamped_tokens; /* token ids clamped to INT32_MAX */
    uint64_t clamped_sizes;  /* block sizes clamped to INT32_MAX */
    uint64_t bytes;          /* payload bytes */
} kvbm_cons_egress_stats;
KVBM_API void kvbm_cons_egress_get_stats(const kvbm_cons_egress *eg, kvbm_cons_egress_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_CONSOLIDATOR_VLLM_H */
