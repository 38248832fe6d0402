/* src/integrations/schedulable.c - SchedulableSequence (spec 30 §2.2): the two-phase
 * schedule / apply state machine over a RequestSequence. Every check runs before any
 * change; the delegate is called after the change, on success only, with no lock held. */
#include <stdio.h>

#include "sequence/seq_int.h"
#include "kvbm/schedulable.h"

struct kvbm_sched_seq {
    kvbm_request_seq  req;
    kvbm_sched_state  state;
    size_t            prefill_position, kv_position;
    kvbm_seq_delegate delegate;
    bool              in_callback;
};

static const char *const event_names[] = {
    "Created", "PrefixMatched", "PrefillScheduled", "PrefillApplied", "DecodeScheduled",
    "DecodeApplied", "SpeculativeScheduled", "SpeculativeApplied", "ScheduleReverted",
    "UnassignedDropped", "Released", "Reacquired",
};

const char *kvbm_seq_event_kind_name(kvbm_seq_event_kind k)
{
    return (unsigned)k < sizeof event_names / sizeof event_names[0] ? event_names[k] : "Unknown";
}

static void emit(kvbm_sched_seq *s, const kvbm_seq_event *ev)
{
    if (s->delegate.on_event == NULL) return;
    s->in_callback = true;
    s->delegate.on_event(s->delegate.user, ev);
    s->in_callback = false;
}

/* ---- small derived values --------------------------------------------------------- */
static size_t ss_bs(const kvbm_sched_seq *s) { return s->req.seq.ts ? kvbm_request_seq_block_size(&s->req) : 0; }
static size_t ss_total(const kvbm_sched_seq *s) { return kvbm_request_seq_total_tokens(&s->req); }
static size_t ss_tail(const kvbm_sched_seq *s)
{
    size_t t = ss_total(s);
    return t > s->kv_position ? t - s->kv_position : 0;
}
static size_t ss_have(const kvbm_sched_seq *s)
{
    const kvbm_request_seq *r = &s->req;
    return r->ndet + r->asg.s.asg.len + r->asg.s.stg.len + r->asg.s.una.len;
}
static bool ss_prefill_complete(const kvbm_sched_seq *s) { return s->prefill_position >= s->req.num_input; }
static size_t ceil_div(size_t a, size_t b) { return a / b + (a % b != 0); }

/* ---- entry checks ------------------------------------------------------------------ */
static kvbm_status enter(kvbm_sched_seq *s, kvbm_seq_error *err)
{
    if (KVBM_UNLIKELY(s == NULL))
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL sequence", KVBM_EINVAL);
    if (KVBM_UNLIKELY(s->in_callback))
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_PRECONDITION,
                                     "sequence called from its own delegate", KVBM_ESTATE);
    return KVBM_OK;
}

static kvbm_status not_idle(const kvbm_sched_seq *s, kvbm_seq_error *err)
{
    kvbm_seq_error e = { .kind = KVBM_SEQERR_NOT_IDLE, .state = s->state };
    return kvbm__seq_fail(err, &e, KVBM_ESTATE);
}

static kvbm_status wrong_state(const kvbm_sched_seq *s, const char *expected, kvbm_seq_error *err)
{
    kvbm_seq_error e = { .kind = KVBM_SEQERR_WRONG_STATE, .expected_state = expected,
                         .state = s->state };
    return kvbm__seq_fail(err, &e, KVBM_ESTATE);
}

/* Preconditions shared by schedule_decode and schedule_speculative (order of §2.2.8). */
static kvbm_status decode_checks(kvbm_sched_seq *s, kvbm_manager *m, kvbm_seq_error *err)
{
    KVBM_TRY(enter(s, err));
    if (s->state.kind != KVBM_SCHED_IDLE) return not_idle(s, err);
    if (!ss_prefill_complete(s)) {
        kvbm_seq_error e = { .kind = KVBM_SEQERR_PREFILL_NOT_COMPLETE,
                             .position = s->prefill_position, .num_input_tokens = s->req.num_input };
        return kvbm__seq_fail(err, &e, KVBM_ESTATE);
    }
    if (kvbm_request_seq_is_complete(&s->req)) {
        kvbm_seq_error e = { .kind = KVBM_SEQERR_GENERATION_COMPLETE,
                             .generated = s->req.generated, .max_output = s->req.max_output };
        return kvbm__seq_fail(err, &e, KVBM_ESTATE);
    }
    size_t tail = ss_tail(s);
    if (tail != 1) {
        kvbm_seq_error e = { .kind = KVBM_SEQERR_WRONG_DANGLING_COUNT, .expected = 1, .actual = tail };
        return kvbm__seq_fail(err, &e, KVBM_ESTATE);
    }
    return kvbm__request_check_manager(&s->req, m, err);
}

/* The end of schedule_prefill / schedule_speculative: allocate what is missing for
 * @end_tokens tokens, enter @kind{num_tokens, allocated}, emit the matching event. */
static kvbm_status schedule_tokens(kvbm_sched_seq *s, kvbm_sched_state_kind kind, size_t num_tokens,
                                   size_t end_tokens, kvbm_manager *m, kvbm_seq_error *err)
{
    size_t need = ceil_div(end_tokens, ss_bs(s)), have = ss_have(s);
    size_t to_alloc = need > have ? need - have : 0;
    KVBM_TRY(kvbm_request_seq_allocate_blocks(&s->req, to_alloc, m, err));
    s->state = (kvbm_sched_state){ kind, num_tokens, to_alloc };
    kvbm_seq_event ev;
    if (kind == KVBM_SCHED_PREFILL) {
        ev.kind = KVBM_SEQ_EV_PREFILL_SCHEDULED;
        ev.u.prefill_scheduled.num_tokens = num_tokens;
        ev.u.prefill_scheduled.blocks_allocated = to_alloc;
    } else {
        ev.kind = KVBM_SEQ_EV_SPECULATIVE_SCHEDULED;
        ev.u.speculative_scheduled.num_tokens = num_tokens;
        ev.u.speculative_scheduled.blocks_allocated = to_alloc;
    }
    emit(s, &ev);
    return KVBM_OK;
}

/* ---- construction ------------------------------------------------------------------ */

void kvbm_sched_seq_config_set_tokens(kvbm_sched_seq_config *c, const kvbm_token *t, size_t n)
{
    c->tokens = t;
    c->num_tokens = n;
    c->set_mask |= KVBM_SSC_TOKENS;
}

void kvbm_sched_seq_config_set_max_output(kvbm_sched_seq_config *c, size_t max_output_tokens)
{
    c->max_output_tokens = max_output_tokens;
    c->set_mask |= KVBM_SSC_MAX_OUTPUT;
}

void kvbm_sched_seq_config_set_block_size(kvbm_sched_seq_config *c, uint32_t block_size)
{
    c->block_size = block_size;
    c->set_mask |= KVBM_SSC_BLOCK_SIZE;
}

kvbm_status kvbm_sched_seq_create(const kvbm_sched_seq_config *cfg, kvbm_sched_seq **out,
                                  kvbm_seq_error *err)
{
    if (cfg == NULL || out == NULL || cfg->struct_size < sizeof(kvbm_sched_seq_config))
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT,
                                     "NULL config/out or config without KVBM_SCHED_SEQ_CONFIG_INIT",
                                     KVBM_EINVAL);
    static const struct { uint32_t bit; const char *name; } req[] = {
        { KVBM_SSC_TOKENS, "tokens" },
        { KVBM_SSC_MAX_OUTPUT, "max_output_tokens" },
        { KVBM_SSC_BLOCK_SIZE, "block_size" },
    };
    for (size_t i = 0; i < 3; i++) {
        if (!(cfg->set_mask & req[i].bit)) {
            kvbm_seq_error e = { .kind = KVBM_SEQERR_MISSING_FIELD, .field = req[i].name };
            return kvbm__seq_fail(err, &e, KVBM_EINVAL);
        }
    }
    kvbm_sched_seq *s = kvbm__calloc(1, sizeof *s);
    if (s == NULL) return KVBM_ENOMEM;
    kvbm_status st = kvbm__request_seq_init(&s->req, cfg->tokens, cfg->num_tokens,
                                            cfg->max_output_tokens, cfg->block_size,
                                            cfg->salt ? *cfg->salt : 0, err);
    if (st == KVBM_OK && cfg->manager != NULL)
        st = kvbm__request_check_manager(&s->req, cfg->manager, err);
    if (st != KVBM_OK) {
        if (s->req.seq.ts) kvbm__request_seq_fini(&s->req);
        kvbm__free(s);
        return st;
    }
    s->delegate = cfg->delegate;
    s->state.kind = KVBM_SCHED_IDLE;
    kvbm_seq_event ev = { .kind = KVBM_SEQ_EV_CREATED };
    ev.u.created.num_input_tokens = cfg->num_tokens;
    ev.u.created.max_output_tokens = cfg->max_output_tokens;
    ev.u.created.block_size = cfg->block_size;
    emit(s, &ev);
    *out = s;
    return KVBM_OK;
}

void kvbm_sched_seq_destroy(kvbm_sched_seq *s)
{
    if (s == NULL) return;
    kvbm__assert(!s->in_callback);
    kvbm__request_seq_fini(&s->req);
    if (s->delegate.release) s->delegate.release(s->delegate.user);
    kvbm__free(s);
}

/* ---- operations -------------------------------------------------------------------- */

kvbm_status kvbm_sched_seq_match_prefix(kvbm_sched_seq *s, kvbm_manager *m, size_t *count,
                                        kvbm_seq_error *err)
{
    KVBM_TRY(enter(s, err));
    if (s->state.kind != KVBM_SCHED_IDLE) return not_idle(s, err);
    size_t c = 0;
    KVBM_TRY(kvbm_request_seq_match_and_add_prefix(&s->req, m, &c, err));
    if (c > 0) {
        s->prefill_position += c * ss_bs(s);
        s->kv_position = s->prefill_position;
    }
    if (count) *count = c;
    kvbm_seq_event ev = { .kind = KVBM_SEQ_EV_PREFIX_MATCHED };
    ev.u.prefix_matched.blocks_matched = c;
    emit(s, &ev);
    return KVBM_OK;
}

kvbm_status kvbm_sched_seq_schedule_prefill(kvbm_sched_seq *s, size_t num_tokens, kvbm_manager *m,
                                            kvbm_seq_error *err)
{
    KVBM_TRY(enter(s, err));
    if (s->state.kind != KVBM_SCHED_IDLE) return not_idle(s, err);
    if (ss_prefill_complete(s))
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_PREFILL_COMPLETE, NULL, KVBM_ESTATE);
    size_t ni = s->req.num_input;
    if (num_tokens > ni - s->prefill_position) {
        kvbm_seq_error e = { .kind = KVBM_SEQERR_PREFILL_OVERRUN, .position = s->prefill_position,
                             .num_tokens = num_tokens, .num_input_tokens = ni };
        return kvbm__seq_fail(err, &e, KVBM_ERANGE);
    }
    KVBM_TRY(kvbm__request_check_manager(&s->req, m, err));
    return schedule_tokens(s, KVBM_SCHED_PREFILL, num_tokens, s->prefill_position + num_tokens, m, err);
}

kvbm_status kvbm_sched_seq_apply_prefill(kvbm_sched_seq *s, const kvbm_token *token,
                                         kvbm_manager *m, kvbm_seq_error *err)
{
    KVBM_TRY(enter(s, err));
    if (s->state.kind != KVBM_SCHED_PREFILL) return wrong_state(s, "PrefillScheduled", err);
    size_t num_tokens = s->state.num_tokens, new_pos = s->prefill_position + num_tokens;
    bool is_final = new_pos >= s->req.num_input;
    if (token && !is_final)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_TOKEN_ON_NON_FINAL_CHUNK, NULL, KVBM_EINVAL);
    if (is_final && !token && s->req.max_output > 0)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_MISSING_TOKEN_ON_FINAL_CHUNK, NULL, KVBM_EINVAL);
    if (token && kvbm_request_seq_is_complete(&s->req)) /* checked before any change (§6.4) */
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_PRECONDITION,
                                     "Cannot generate more tokens: reached max_output_tokens limit",
                                     KVBM_ERANGE);
    KVBM_TRY(kvbm__request_check_manager(&s->req, m, err));
    size_t before = kvbm_request_seq_assigned_blocks(&s->req);
    KVBM_TRY(kvbm_request_seq_complete_and_register_pending(&s->req, m, NULL, err));
    s->prefill_position = new_pos;
    s->kv_position = new_pos;
    if (token) {
        kvbm_status st = kvbm_request_seq_append_token(&s->req, *token, NULL, NULL, err);
        if (st != KVBM_OK) return st; /* only at the PLH position cap */
    }
    size_t registered = kvbm_request_seq_assigned_blocks(&s->req) - before + s->req.asg.s.stg.len;
    s->state = (kvbm_sched_state){ KVBM_SCHED_IDLE, 0, 0 };
    kvbm_seq_event ev = { .kind = KVBM_SEQ_EV_PREFILL_APPLIED };
    ev.u.prefill_applied.num_tokens = num_tokens;
    ev.u.prefill_applied.blocks_registered = registered;
    ev.u.prefill_applied.token_emitted = token != NULL;
    emit(s, &ev);
    return KVBM_OK;
}

kvbm_status kvbm_sched_seq_schedule_decode(kvbm_sched_seq *s, kvbm_manager *m, kvbm_seq_error *err)
{
    KVBM_TRY(decode_checks(s, m, err));
    const kvbm_request_seq *r = &s->req;
    size_t held = r->ndet + r->asg.s.asg.len + r->asg.s.stg.len, nb = kvbm_request_seq_num_blocks(r);
    size_t need = (nb > held ? nb - held : 0) + 1, una = r->asg.s.una.len;
    size_t to_alloc = need > una ? need - una : 0;
    if (to_alloc) KVBM_TRY(kvbm_request_seq_allocate_blocks(&s->req, to_alloc, m, err));
    s->state = (kvbm_sched_state){ KVBM_SCHED_DECODE, 0, to_alloc };
    if (s->delegate.on_event) {
        kvbm_seq_event ev = { .kind = KVBM_SEQ_EV_DECODE_SCHEDULED };
        ev.u.decode_scheduled.blocks_allocated = to_alloc;
        emit(s, &ev);
    }
    return KVBM_OK;
}

static kvbm_decode_outcome outcome_of(const kvbm_sched_seq *s, bool crossed)
{
    return (kvbm_decode_outcome)((crossed ? KVBM_DECODE_BLOCK_COMPLETED : 0) |
                                 (kvbm_request_seq_is_complete(&s->req) ? KVBM_DECODE_MAX_LENGTH : 0));
}

/* complete_and_register_pending, skipped cheaply when nothing can be staged */
static kvbm_status register_pending(kvbm_sched_seq *s, kvbm_manager *m, kvbm_seq_error *err)
{
    const kvbm_request_seq *r = &s->req;
    size_t held = r->ndet + r->asg.s.asg.len + r->asg.s.stg.len;
    if (held >= kvbm_request_seq_num_blocks(r) && r->asg.s.stg.len == 0) return KVBM_OK;
    return kvbm_request_seq_complete_and_register_pending(&s->req, m, NULL, err);
}

kvbm_status kvbm_sched_seq_apply_decode(kvbm_sched_seq *s, kvbm_token token, kvbm_manager *m,
                                        kvbm_decode_outcome *outcome, kvbm_seq_error *err)
{
    KVBM_TRY(enter(s, err));
    if (s->state.kind != KVBM_SCHED_DECODE) return wrong_state(s, "DecodeScheduled", err);
    KVBM_TRY(kvbm__request_check_manager(&s->req, m, err));
    bool crossed = false;
    KVBM_TRY(kvbm_request_seq_append_token(&s->req, token, &crossed, NULL, err));
    KVBM_TRY(register_pending(s, m, err));
    s->kv_position++;
    s->state = (kvbm_sched_state){ KVBM_SCHED_IDLE, 0, 0 };
    if (s->delegate.on_event) {
        kvbm_seq_event ev = { .kind = KVBM_SEQ_EV_DECODE_APPLIED };
        ev.u.decode_applied.token = token;
        ev.u.decode_applied.block_completed = crossed;
        emit(s, &ev);
    }
    if (outcome) *outcome = outcome_of(s, crossed);
    return KVBM_OK;
}

kvbm_status kvbm_sched_seq_schedule_speculative(kvbm_sched_seq *s, size_t num_draft,
                                                kvbm_manager *m, kvbm_seq_error *err)
{
    KVBM_TRY(decode_checks(s, m, err));
    size_t rem = kvbm_request_seq_remaining_tokens(&s->req);
    size_t n = num_draft < rem ? num_draft : rem;
    return schedule_tokens(s, KVBM_SCHED_SPECULATIVE, n, ss_total(s) + n, m, err);
}

kvbm_status kvbm_sched_seq_apply_speculative(kvbm_sched_seq *s, const kvbm_token *accepted,
                                             size_t n, kvbm_manager *m,
                                             kvbm_decode_outcome *outcome, kvbm_seq_error *err)
{
    KVBM_TRY(enter(s, err));
    if (s->state.kind != KVBM_SCHED_SPECULATIVE) return wrong_state(s, "SpeculativeScheduled", err);
    size_t sched = s->state.num_tokens;
    if (n > sched) {
        kvbm_seq_error e = { .kind = KVBM_SEQERR_ACCEPTED_EXCEEDS_SCHEDULED, .accepted = n,
                             .scheduled = sched };
        return kvbm__seq_fail(err, &e, KVBM_ERANGE);
    }
    if (accepted == NULL && n)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL token array", KVBM_EINVAL);
    KVBM_TRY(kvbm__request_check_manager(&s->req, m, err));
    bool crossed = false;
    /* n <= scheduled <= remaining, so the budget holds for every append */
    KVBM_TRY(kvbm_block_seq_extend_tokens(&s->req.seq, accepted, n, &crossed, NULL, NULL, err));
    s->req.generated += n;
    KVBM_TRY(register_pending(s, m, err));
    s->kv_position += n;
    size_t need_gen = kvbm_request_seq_is_complete(&s->req) ? 0 : 1;
    size_t released = kvbm_request_seq_drop_excess_unassigned(&s->req, need_gen);
    s->state = (kvbm_sched_state){ KVBM_SCHED_IDLE, 0, 0 };
    kvbm_seq_event ev = { .kind = KVBM_SEQ_EV_SPECULATIVE_APPLIED };
    ev.u.speculative_applied.accepted = n;
    ev.u.speculative_applied.scheduled = sched;
    ev.u.speculative_applied.blocks_released = released;
    emit(s, &ev);
    if (outcome) *outcome = outcome_of(s, crossed);
    return KVBM_OK;
}

kvbm_status kvbm_sched_seq_revert(kvbm_sched_seq *s, kvbm_seq_error *err)
{
    KVBM_TRY(enter(s, err));
    if (s->state.kind == KVBM_SCHED_IDLE) return wrong_state(s, "any Scheduled state", err);
    size_t n = s->state.blocks_allocated;
    size_t una = s->req.asg.s.una.len;
    (void)kvbm_request_seq_drop_excess_unassigned(&s->req, una > n ? una - n : 0);
    s->state = (kvbm_sched_state){ KVBM_SCHED_IDLE, 0, 0 };
    kvbm_seq_event ev = { .kind = KVBM_SEQ_EV_SCHEDULE_REVERTED };
    ev.u.schedule_reverted.blocks_released = n;
    emit(s, &ev);
    return KVBM_OK;
}

kvbm_status kvbm_sched_seq_drop_unassigned(kvbm_sched_seq *s, size_t count, size_t *dropped,
                                           kvbm_seq_error *err)
{
    if (dropped) *dropped = 0;
    KVBM_TRY(enter(s, err));
    if (s->state.kind != KVBM_SCHED_IDLE)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_PRECONDITION,
                                     "drop_unassigned called in non-Idle state", KVBM_ESTATE);
    size_t una = s->req.asg.s.una.len;
    size_t n = kvbm_request_seq_drop_excess_unassigned(&s->req, una > count ? una - count : 0);
    if (n > 0) {
        kvbm_seq_event ev = { .kind = KVBM_SEQ_EV_UNASSIGNED_DROPPED };
        ev.u.unassigned_dropped.count = n;
        emit(s, &ev);
    }
    if (dropped) *dropped = n;
    return KVBM_OK;
}

kvbm_status kvbm_sched_seq_release(kvbm_sched_seq *s, kvbm_seq_error *err)
{
    KVBM_TRY(enter(s, err));
    if (s->state.kind != KVBM_SCHED_IDLE) return wrong_state(s, "Idle", err);
    (void)kvbm_request_seq_release(&s->req);
    kvbm_seq_event ev = { .kind = KVBM_SEQ_EV_RELEASED };
    emit(s, &ev);
    return KVBM_OK;
}

kvbm_status kvbm_sched_seq_reacquire(kvbm_sched_seq *s, kvbm_manager *m, bool *success,
                                     kvbm_seq_error *err)
{
    if (success) *success = false;
    KVBM_TRY(enter(s, err));
    if (s->state.kind != KVBM_SCHED_IDLE) return wrong_state(s, "Idle", err);
    bool ok = false;
    KVBM_TRY(kvbm_request_seq_reacquire(&s->req, m, &ok, err));
    kvbm_seq_event ev = { .kind = KVBM_SEQ_EV_REACQUIRED };
    ev.u.reacquired.prefix_matched = s->req.prefix_matched;
    ev.u.reacquired.success = ok;
    emit(s, &ev);
    if (success) *success = ok;
    return KVBM_OK;
}

kvbm_status kvbm_sched_seq_append_tokens(kvbm_sched_seq *s, const kvbm_token *tokens, size_t n,
                                         kvbm_seq_error *err)
{
    KVBM_TRY(enter(s, err));
    if (s->state.kind != KVBM_SCHED_IDLE) return wrong_state(s, "Idle", err);
    size_t rem = kvbm_request_seq_remaining_tokens(&s->req);
    if (n > rem) {
        kvbm_seq_error e = { .kind = KVBM_SEQERR_APPEND_EXCEEDS_REMAINING, .requested = n,
                             .remaining = rem };
        return kvbm__seq_fail(err, &e, KVBM_ERANGE);
    }
    if (tokens == NULL && n)
        return kvbm__seq_fail_simple(err, KVBM_SEQERR_BAD_ARGUMENT, "NULL token array", KVBM_EINVAL);
    KVBM_TRY(kvbm_block_seq_extend_tokens(&s->req.seq, tokens, n, NULL, NULL, NULL, err));
    s->req.generated += n;
    return KVBM_OK;
}

/* ---- accessors --------------------------------------------------------------------- */

kvbm_status kvbm_sched_seq_info_get(const kvbm_sched_seq *s, kvbm_sched_seq_info *o)
{
    if (s == NULL || o == NULL || o->struct_size < sizeof(kvbm_sched_seq_info)) return KVBM_EINVAL;
    const kvbm_request_seq *r = &s->req;
    o->state = s->state;
    o->prefill_position = s->prefill_position;
    o->kv_position = s->kv_position;
    o->tail_tokens = ss_tail(s);
    o->is_prefill_complete = ss_prefill_complete(s);
    o->is_complete = kvbm_request_seq_is_complete(r);
    o->generated = r->generated;
    o->max_output = r->max_output;
    o->num_input = r->num_input;
    o->total_tokens = ss_total(s);
    o->remaining = kvbm_request_seq_remaining_tokens(r);
    o->num_blocks = kvbm_request_seq_num_blocks(r);
    o->assigned = kvbm_request_seq_assigned_blocks(r);
    o->staged = r->asg.s.stg.len;
    o->unassigned = r->asg.s.una.len;
    o->prefix_matched = r->prefix_matched;
    o->new_tokens_for_prefill = kvbm_request_seq_new_tokens_for_prefill(r);
    o->block_size = (uint32_t)ss_bs(s);
    return KVBM_OK;
}

kvbm_sched_state kvbm_sched_seq_state(const kvbm_sched_seq *s) { return s->state; }
size_t kvbm_sched_seq_tail_tokens(const kvbm_sched_seq *s) { return ss_tail(s); }
const kvbm_request_seq *kvbm_sched_seq_request(const kvbm_sched_seq *s) { return &s->req; }

int kvbm_sched_seq_describe(const kvbm_sched_seq *s, char *buf, size_t cap)
{
    char st[96], inner[512];
    kvbm_sched_state_format(s->state, st, sizeof st);
    kvbm_request_seq_describe(&s->req, inner, sizeof inner);
    return snprintf(buf, cap,
                    "SchedulableSequence { state: %s, prefill_position: %zu, kv_position: %zu, "
                    "inner: %s }",
                    st, s->prefill_position, s->kv_position, inner);
}
