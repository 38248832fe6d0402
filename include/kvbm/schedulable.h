/* kvbm/schedulable.h - SchedulableSequence (spec 30 §2.2): the two-phase
 * schedule -> forward pass -> apply state machine a scheduler drives directly.
 *
 *   Idle --schedule_prefill(n)--> PrefillScheduled --apply_prefill(tok?)--> Idle
 *   Idle --schedule_decode------> DecodeScheduled  --apply_decode(tok)----> Idle
 *   Idle --schedule_speculative-> SpeculativeScheduled --apply_speculative--> Idle
 *   any Scheduled --revert--> Idle (gives back exactly the blocks the schedule took)
 *
 * Every error leaves the sequence completely unchanged (state, blocks, positions), so an
 * apply error keeps the schedule pending. Statuses: KVBM_ESTATE (NOT_IDLE, WRONG_STATE,
 * PREFILL_COMPLETE, PREFILL_NOT_COMPLETE, GENERATION_COMPLETE, WRONG_DANGLING_COUNT,
 * PRECONDITION, a call from inside this sequence's own delegate), KVBM_ERANGE
 * (PREFILL_OVERRUN, ACCEPTED_EXCEEDS_SCHEDULED, APPEND_EXCEEDS_REMAINING, a final prefill
 * token with a zero output budget), KVBM_EINVAL (TOKEN_ON_NON_FINAL_CHUNK,
 * MISSING_TOKEN_ON_FINAL_CHUNK, BLOCK_SIZE_MISMATCH, MISSING_FIELD, BAD_ARGUMENT),
 * KVBM_EEXHAUSTED (ALLOCATION_FAILED).
 *
 * Hazards for integrators (reproduced from the reference on purpose; docs/design/sequence.md):
 *  H1  apply_decode / apply_speculative register a block as soon as its last token is
 *      APPENDED, although that token's KV is only computed in the next forward pass. Do not
 *      let other requests read KV of blocks registered in this step until it has run.
 *  H2  apply_prefill registers every complete token block that has an allocated block, so
 *      a chunk ending mid-block registers the block holding the chunk end early.
 *  H3  reacquire registers the non-matched blocks without recompute and leaves kv_position
 *      alone: recompute num_blocks - prefix_matched blocks plus the tail before decoding.
 *  H4  if the whole input is a cache hit and block aligned, prefill is complete with
 *      tail 0: schedule_prefill -> PREFILL_COMPLETE, schedule_decode ->
 *      WRONG_DANGLING_COUNT{1, 0}. Supply a token with append_tokens (or avoid the match).
 *  H5  release keeps the positions (they still claim KV exists): reacquire (or recompute).
 *  H6  Reject duplication policy: assignments are keyed by the block actually returned.
 *  H7  the block size must equal the manager's: refused at creation when the config names
 *      the manager, and at every manager-touching call, with both sizes in the message.
 *
 * Threads: a sequence is single-owner (not synchronised). Its delegate may be shared by
 * many sequences driven from different threads; it is then called concurrently and must
 * be thread-safe. The delegate runs synchronously on the calling thread, after the state
 * change, only on success, with NO kvbm lock held; it may call the manager or other
 * sequences, but not this sequence (KVBM_ESTATE).
 */
#ifndef KVBM_SCHEDULABLE_H
#define KVBM_SCHEDULABLE_H

#include "kvbm/request.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvbm_sched_seq kvbm_sched_seq;

/** DecodeOutcome as a bit set: CONTINUE 0, BLOCK_COMPLETED 1, MAX_LENGTH 2, both 3. */
typedef enum kvbm_decode_outcome {
    KVBM_DECODE_CONTINUE        = 0,
    KVBM_DECODE_BLOCK_COMPLETED = 1,
    KVBM_DECODE_MAX_LENGTH      = 2,
    KVBM_DECODE_BLOCK_COMPLETED_AND_MAX_LENGTH = 3
} kvbm_decode_outcome;

typedef enum kvbm_seq_event_kind {
    KVBM_SEQ_EV_CREATED = 0,
    KVBM_SEQ_EV_PREFIX_MATCHED,
    KVBM_SEQ_EV_PREFILL_SCHEDULED,
    KVBM_SEQ_EV_PREFILL_APPLIED,
    KVBM_SEQ_EV_DECODE_SCHEDULED,
    KVBM_SEQ_EV_DECODE_APPLIED,
    KVBM_SEQ_EV_SPECULATIVE_SCHEDULED,
    KVBM_SEQ_EV_SPECULATIVE_APPLIED,
    KVBM_SEQ_EV_SCHEDULE_REVERTED,
    KVBM_SEQ_EV_UNASSIGNED_DROPPED,
    KVBM_SEQ_EV_RELEASED,
    KVBM_SEQ_EV_REACQUIRED
} kvbm_seq_event_kind;

/** SequenceEvent: a tagged union with the payloads of spec 30 §2.2.4. */
typedef struct kvbm_seq_event {
    kvbm_seq_event_kind kind;
    union {
        struct { size_t num_input_tokens, max_output_tokens; uint32_t block_size; } created;
        struct { size_t blocks_matched; } prefix_matched;
        struct { size_t num_tokens, blocks_allocated; } prefill_scheduled;
        struct { size_t num_tokens, blocks_registered; bool token_emitted; } prefill_applied;
        struct { size_t blocks_allocated; } decode_scheduled;
        struct { kvbm_token token; bool block_completed; } decode_applied;
        struct { size_t num_tokens, blocks_allocated; } speculative_scheduled;
        struct { size_t accepted, scheduled, blocks_released; } speculative_applied;
        struct { size_t blocks_released; } schedule_reverted;
        struct { size_t count; } unassigned_dropped;
        struct { size_t prefix_matched; bool success; } reacquired;
    } u;
} kvbm_seq_event;

/** "Created", "PrefillScheduled", ... (static). */
KVBM_API const char *kvbm_seq_event_kind_name(kvbm_seq_event_kind k);

/**
 * struct kvbm_seq_delegate - the event sink (SequenceDelegate), copied into the sequence.
 * @on_event: NULL = NoopDelegate. Called synchronously (see the file comment); @ev is valid
 *            only during the call. Shared @user objects must be thread-safe.
 * @release:  optional; called once with @user when the sequence is destroyed, so shared
 *            users can refcount themselves. Never called when creation fails (the caller
 *            still owns @user then).
 */
typedef struct kvbm_seq_delegate {
    void (*on_event)(void *user, const kvbm_seq_event *ev);
    void *user;
    void (*release)(void *user);
} kvbm_seq_delegate;

#define KVBM_SSC_TOKENS     0x1u
#define KVBM_SSC_MAX_OUTPUT 0x2u
#define KVBM_SSC_BLOCK_SIZE 0x4u

/**
 * struct kvbm_sched_seq_config - the builder. Start from KVBM_SCHED_SEQ_CONFIG_INIT; the
 * setters below set the required-field bits. Fields appended only.
 */
typedef struct kvbm_sched_seq_config {
    size_t            struct_size;       /* set by the initialiser */
    uint32_t          set_mask;          /* KVBM_SSC_* bits of the required fields set */
    const kvbm_token *tokens;            /* copied; may be NULL when num_tokens == 0 */
    size_t            num_tokens;
    size_t            max_output_tokens;
    uint32_t          block_size;
    kvbm_seq_delegate delegate;          /* zeroed = NoopDelegate */
    const uint64_t   *salt;              /* NULL = no salt (the reference); optional */
    kvbm_manager     *manager;           /* optional: refuse a block size differing from it (H7) */
} kvbm_sched_seq_config;

#define KVBM_SCHED_SEQ_CONFIG_INIT \
    { sizeof(kvbm_sched_seq_config), 0u, NULL, 0, 0, 0, { NULL, NULL, NULL }, NULL, NULL }

KVBM_API void kvbm_sched_seq_config_set_tokens(kvbm_sched_seq_config *c, const kvbm_token *t, size_t n);
KVBM_API void kvbm_sched_seq_config_set_max_output(kvbm_sched_seq_config *c, size_t max_output_tokens);
KVBM_API void kvbm_sched_seq_config_set_block_size(kvbm_sched_seq_config *c, uint32_t block_size);

/**
 * kvbm_sched_seq_create() - build a sequence (SchedulableSequenceBuilder::build / new).
 * Checks the required bits in the order tokens, max_output_tokens, block_size (MISSING_FIELD
 * "`max_output_tokens` must be initialized"), then the block size (BAD_ARGUMENT), then,
 * when cfg->manager is set, that it equals the manager's (BLOCK_SIZE_MISMATCH, H7).
 * Emits Created to the delegate before returning. Starts Idle with positions 0.
 * Returns KVBM_OK, KVBM_EINVAL, KVBM_ERANGE, KVBM_ENOMEM. *@out: kvbm_sched_seq_destroy().
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_sched_seq_create(const kvbm_sched_seq_config *cfg, kvbm_sched_seq **out, kvbm_seq_error *err);

/** Release every held block, call the delegate's release, free. NULL: no-op. Must not be
 *  called from the sequence's own delegate. */
KVBM_API void kvbm_sched_seq_destroy(kvbm_sched_seq *s);

/** Idle only. Prefix hits count as prefilled and computed; emits PrefixMatched{count}. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_sched_seq_match_prefix(kvbm_sched_seq *s, kvbm_manager *m, size_t *count, kvbm_seq_error *err);

/** Check order: NOT_IDLE, PREFILL_COMPLETE, PREFILL_OVERRUN, ALLOCATION_FAILED.
 *  Allocates ceil((prefill_position + n) / bs) - held blocks. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_sched_seq_schedule_prefill(kvbm_sched_seq *s, size_t num_tokens, kvbm_manager *m,
                                kvbm_seq_error *err);
/** Check order: NOT_IDLE, PREFILL_NOT_COMPLETE, GENERATION_COMPLETE, WRONG_DANGLING_COUNT,
 *  ALLOCATION_FAILED. Allocates pending completions + the generation block if missing. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_sched_seq_schedule_decode(kvbm_sched_seq *s, kvbm_manager *m, kvbm_seq_error *err);
/** As schedule_decode; @num_draft is clamped to remaining_tokens (may become 0). */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_sched_seq_schedule_speculative(kvbm_sched_seq *s, size_t num_draft, kvbm_manager *m,
                                    kvbm_seq_error *err);

/**
 * kvbm_sched_seq_apply_prefill() - @token NULL = no token. Check order: WRONG_STATE,
 * TOKEN_ON_NON_FINAL_CHUNK, MISSING_TOKEN_ON_FINAL_CHUNK, then (kvbm divergence, decision 7)
 * a final token with max_output_tokens == 0 -> KVBM_ERANGE before any change. Registers
 * every complete block with an allocated block (H2); the token becomes the dangling token.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_sched_seq_apply_prefill(kvbm_sched_seq *s, const kvbm_token *token, kvbm_manager *m,
                             kvbm_seq_error *err);
/** Append the sampled token, register what completed (H1); *@outcome optional. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_sched_seq_apply_decode(kvbm_sched_seq *s, kvbm_token token, kvbm_manager *m,
                            kvbm_decode_outcome *outcome, kvbm_seq_error *err);
/** Append the @n accepted tokens (ACCEPTED_EXCEEDS_SCHEDULED if more than scheduled),
 *  register, LIFO-release excess blocks (keep one generation block unless complete). */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_sched_seq_apply_speculative(kvbm_sched_seq *s, const kvbm_token *accepted, size_t n,
                                 kvbm_manager *m, kvbm_decode_outcome *outcome, kvbm_seq_error *err);
/** Any Scheduled state -> Idle, LIFO-releasing the blocks the schedule allocated. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_sched_seq_revert(kvbm_sched_seq *s, kvbm_seq_error *err);
/** Idle only (KVBM_ESTATE otherwise): LIFO-release up to @count queued blocks. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_sched_seq_drop_unassigned(kvbm_sched_seq *s, size_t count, size_t *dropped, kvbm_seq_error *err);
/** Idle only: release every block (positions kept, H5); emits Released. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_sched_seq_release(kvbm_sched_seq *s, kvbm_seq_error *err);
/** Idle only: RequestSequence reacquire (H3); emits Reacquired{prefix_matched, success}. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_sched_seq_reacquire(kvbm_sched_seq *s, kvbm_manager *m, bool *success, kvbm_seq_error *err);
/** Idle only: append tokens without KV (tail grows); APPEND_EXCEEDS_REMAINING. No event. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_sched_seq_append_tokens(kvbm_sched_seq *s, const kvbm_token *tokens, size_t n, kvbm_seq_error *err);

/** Snapshot of every accessor (versioned: set struct_size or use KVBM_SCHED_SEQ_INFO_INIT). */
typedef struct kvbm_sched_seq_info {
    size_t           struct_size;
    kvbm_sched_state state;
    size_t   prefill_position, kv_position, tail_tokens;
    bool     is_prefill_complete, is_complete;
    size_t   generated, max_output, num_input, total_tokens, remaining;
    size_t   num_blocks, assigned, staged, unassigned, prefix_matched, new_tokens_for_prefill;
    uint32_t block_size;
} kvbm_sched_seq_info;
#define KVBM_SCHED_SEQ_INFO_INIT { .struct_size = sizeof(kvbm_sched_seq_info) }

/** Fill @out. KVBM_EINVAL on NULL or a struct_size smaller than the first version. */
KVBM_API kvbm_status kvbm_sched_seq_info_get(const kvbm_sched_seq *s, kvbm_sched_seq_info *out);
KVBM_API kvbm_sched_state kvbm_sched_seq_state(const kvbm_sched_seq *s);
KVBM_API size_t kvbm_sched_seq_tail_tokens(const kvbm_sched_seq *s);
/** The inner request (page_indices, sequence, ...); borrowed for @s's lifetime. */
KVBM_API const kvbm_request_seq *kvbm_sched_seq_request(const kvbm_sched_seq *s);
/** "SchedulableSequence { state: Idle, prefill_position: .., kv_position: .., inner: ... }". */
KVBM_API int kvbm_sched_seq_describe(const kvbm_sched_seq *s, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_SCHEDULABLE_H */
