/* src/sequence/seq_error.c - the sequence layer's error record and its Display texts
 * (spec 30 §1.2, §1.6.3, §2.2.5). One formatter renders both kvbm_seq_error_format() and
 * the kvbm_last_error() message, so the two never disagree. */
#include <stdio.h>

#include "seq_int.h"

static const char *const kind_names[] = {
    "NONE", "ORDERING_VIOLATION", "POSITION_MISMATCH", "DUPLICATE_BLOCK_ID",
    "DUPLICATE_ASSIGNED_BLOCK_ID", "SEQUENCE_HASH_MISMATCH", "BLOCK_SIZE_MISMATCH",
    "TOKEN_EXTENSION", "NOT_IDLE", "PREFILL_OVERRUN", "PREFILL_COMPLETE",
    "PREFILL_NOT_COMPLETE", "ALLOCATION_FAILED", "GENERATION_COMPLETE",
    "WRONG_DANGLING_COUNT", "WRONG_STATE", "TOKEN_ON_NON_FINAL_CHUNK",
    "ACCEPTED_EXCEEDS_SCHEDULED", "MISSING_TOKEN_ON_FINAL_CHUNK", "APPEND_EXCEEDS_REMAINING",
    "MISSING_FIELD", "BAD_ARGUMENT", "PRECONDITION", "MANAGER",
};

const char *kvbm_seq_error_kind_name(kvbm_seq_error_kind k)
{
    if ((unsigned)k < sizeof kind_names / sizeof kind_names[0]) return kind_names[k];
    return "UNKNOWN";
}

int kvbm_sched_state_format(kvbm_sched_state s, char *buf, size_t cap)
{
    switch (s.kind) {
    case KVBM_SCHED_IDLE: return snprintf(buf, cap, "Idle");
    case KVBM_SCHED_PREFILL:
        return snprintf(buf, cap, "PrefillScheduled { num_tokens: %zu, blocks_allocated: %zu }",
                        s.num_tokens, s.blocks_allocated);
    case KVBM_SCHED_DECODE:
        return snprintf(buf, cap, "DecodeScheduled { blocks_allocated: %zu }", s.blocks_allocated);
    case KVBM_SCHED_SPECULATIVE:
        return snprintf(buf, cap, "SpeculativeScheduled { num_tokens: %zu, blocks_allocated: %zu }",
                        s.num_tokens, s.blocks_allocated);
    }
    return snprintf(buf, cap, "Unknown");
}

int kvbm_seq_error_format(const kvbm_seq_error *e, char *buf, size_t cap)
{
    char st[96], h1[KVBM_PLH_DISPLAY_LEN], h2[KVBM_PLH_DISPLAY_LEN];
    if (e == NULL) return snprintf(buf, cap, "no error");
    switch (e->kind) {
    case KVBM_SEQERR_NONE: return snprintf(buf, cap, "no error");
    case KVBM_SEQERR_ORDERING_VIOLATION:
        return snprintf(buf, cap,
                        "ordering violation: known block_id %llu at index %zu appeared after new "
                        "block_id %llu at index %zu",
                        (unsigned long long)e->known_id, e->known_index,
                        (unsigned long long)e->new_id, e->first_new_index);
    case KVBM_SEQERR_POSITION_MISMATCH:
        return snprintf(buf, cap, "position mismatch for block_id %llu: expected %zu, actual %zu",
                        (unsigned long long)e->block_id, e->expected, e->actual);
    case KVBM_SEQERR_DUPLICATE_BLOCK_ID:
    case KVBM_SEQERR_DUPLICATE_ASSIGNED_BLOCK_ID:
        return snprintf(buf, cap, "duplicate block_id %llu already present",
                        (unsigned long long)e->block_id);
    case KVBM_SEQERR_SEQUENCE_HASH_MISMATCH:
        return snprintf(buf, cap, "sequence hash mismatch at position %zu: expected %s, got %s",
                        e->position, kvbm_plh_display(e->expected_hash, h1),
                        kvbm_plh_display(e->actual_hash, h2));
    case KVBM_SEQERR_BLOCK_SIZE_MISMATCH:
        return snprintf(buf, cap, "Block size mismatch: expected %zu tokens, got %zu", e->expected,
                        e->actual);
    case KVBM_SEQERR_TOKEN_EXTENSION:
        return snprintf(buf, cap, "token extension error: %s", kvbm_strerror(e->token_status));
    case KVBM_SEQERR_NOT_IDLE:
        kvbm_sched_state_format(e->state, st, sizeof st);
        return snprintf(buf, cap, "expected Idle state, got %s", st);
    case KVBM_SEQERR_PREFILL_OVERRUN:
        return snprintf(buf, cap, "prefill overrun: position %zu + %zu > %zu", e->position,
                        e->num_tokens, e->num_input_tokens);
    case KVBM_SEQERR_PREFILL_COMPLETE: return snprintf(buf, cap, "prefill already complete");
    case KVBM_SEQERR_PREFILL_NOT_COMPLETE:
        return snprintf(buf, cap, "prefill not yet complete (position %zu < %zu)", e->position,
                        e->num_input_tokens);
    case KVBM_SEQERR_ALLOCATION_FAILED:
        return snprintf(buf, cap, "allocation failed: needed %zu blocks", e->needed);
    case KVBM_SEQERR_GENERATION_COMPLETE:
        return snprintf(buf, cap, "generation complete: %zu >= %zu", e->generated, e->max_output);
    case KVBM_SEQERR_WRONG_DANGLING_COUNT:
        return snprintf(buf, cap, "expected %zu dangling token(s), got %zu", e->expected, e->actual);
    case KVBM_SEQERR_WRONG_STATE:
        kvbm_sched_state_format(e->state, st, sizeof st);
        return snprintf(buf, cap, "expected %s, got %s",
                        e->expected_state ? e->expected_state : "?", st);
    case KVBM_SEQERR_TOKEN_ON_NON_FINAL_CHUNK:
        return snprintf(buf, cap, "token provided but prefill not completing this chunk");
    case KVBM_SEQERR_ACCEPTED_EXCEEDS_SCHEDULED:
        return snprintf(buf, cap, "accepted %zu tokens exceeds scheduled %zu", e->accepted,
                        e->scheduled);
    case KVBM_SEQERR_MISSING_TOKEN_ON_FINAL_CHUNK:
        return snprintf(buf, cap, "final prefill chunk requires a generated token");
    case KVBM_SEQERR_APPEND_EXCEEDS_REMAINING:
        return snprintf(buf, cap, "append requested %zu tokens but only %zu remain", e->requested,
                        e->remaining);
    case KVBM_SEQERR_MISSING_FIELD:
        return snprintf(buf, cap, "`%s` must be initialized", e->field ? e->field : "?");
    case KVBM_SEQERR_BAD_ARGUMENT:
        return snprintf(buf, cap, "%s", e->detail ? e->detail : "invalid argument");
    case KVBM_SEQERR_PRECONDITION:
        return snprintf(buf, cap, "%s", e->detail ? e->detail : "precondition violated");
    case KVBM_SEQERR_MANAGER:
        return snprintf(buf, cap, "%s failed: %s", e->detail ? e->detail : "manager call",
                        kvbm_status_name(e->token_status));
    }
    return snprintf(buf, cap, "unknown sequence error %d", (int)e->kind);
}

kvbm_status kvbm__seq_fail(kvbm_seq_error *err, const kvbm_seq_error *e, kvbm_status st)
{
    char msg[320];
    kvbm_seq_error_format(e, msg, sizeof msg);
    kvbm__set_error("%s", msg);
    if (err) *err = *e;
    return st;
}

kvbm_status kvbm__seq_fail_simple(kvbm_seq_error *err, kvbm_seq_error_kind kind,
                                  const char *detail, kvbm_status st)
{
    kvbm_seq_error e = { .kind = kind, .detail = detail };
    return kvbm__seq_fail(err, &e, st);
}

kvbm_status kvbm__seq_fail_manager(kvbm_seq_error *err, const char *what, kvbm_status st)
{
    char inner[256];
    snprintf(inner, sizeof inner, "%s", kvbm_last_error());
    kvbm_seq_error e = { .kind = KVBM_SEQERR_MANAGER, .detail = what, .token_status = st };
    if (err) *err = e;
    kvbm__set_error("%s failed: %s%s%s", what, kvbm_status_name(st), inner[0] ? ": " : "", inner);
    return st;
}

kvbm_status kvbm__seq_block_size_mismatch(kvbm_seq_error *err, size_t expected, size_t actual)
{
    kvbm_seq_error e = { .kind = KVBM_SEQERR_BLOCK_SIZE_MISMATCH, .expected = expected,
                         .actual = actual };
    return kvbm__seq_fail(err, &e, KVBM_EINVAL);
}
