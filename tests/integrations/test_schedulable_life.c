/* tests/integrations/test_schedulable_life.c - SchedulableSequence, second half of spec 30
 * §5.6 (revert, drop, delegate, lifecycle, prefix, dangling tokens, builder) and the bad
 * input of issue 19 (§6.4: every panic is a status and the sequence is unchanged). */
#include <stdlib.h>

#include "support/seq_helpers.h"


KVBM_TEST(revert_prefill)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 4, m, NULL));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 19);
    ASSERT_OK(kvbm_sched_seq_revert(s, NULL));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    EXPECT_EQ(ST(s), KVBM_SCHED_IDLE);
    EXPECT_EQ(sinfo(s).prefill_position, 0);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(revert_decode)
{
    kvbm_manager *m = create_test_manager(20);
    ev_log log = { 0 };
    kvbm_sched_seq *s = prefilled_seq(4, 10, m, &log);
    for (kvbm_token t = 100; t < 103; t++) decode(s, t, m);
    EXPECT_EQ(sinfo(s).unassigned, 0);
    uint64_t before = kvbm_manager_available_blocks(m);
    ASSERT_OK(kvbm_sched_seq_schedule_decode(s, m, NULL));
    EXPECT_EQ(kvbm_manager_available_blocks(m), before - 1);
    ASSERT_OK(kvbm_sched_seq_revert(s, NULL));
    EXPECT_EQ(kvbm_manager_available_blocks(m), before);
    const kvbm_seq_event *ev = &log.ev[log.n - 1];
    EXPECT_EQ(ev->kind, KVBM_SEQ_EV_SCHEDULE_REVERTED);
    EXPECT_EQ(ev->u.schedule_reverted.blocks_released, 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(revert_speculative)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(4, 10, m, NULL);
    uint64_t before = kvbm_manager_available_blocks(m);
    ASSERT_OK(kvbm_sched_seq_schedule_speculative(s, 4, m, NULL));
    EXPECT_LT(kvbm_manager_available_blocks(m), before);
    ASSERT_OK(kvbm_sched_seq_revert(s, NULL));
    EXPECT_EQ(kvbm_manager_available_blocks(m), before);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(revert_returns_blocks_to_manager)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 8, m, NULL));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 18);
    ASSERT_OK(kvbm_sched_seq_revert(s, NULL));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    EXPECT_EQ(sinfo(s).unassigned, 0);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(drop_unassigned_lifo)
{
    kvbm_manager *m = create_test_manager(20);
    ev_log log = { 0 };
    kvbm_sched_seq *s = prefilled_seq(4, 10, m, &log);
    decode(s, 100, m);
    EXPECT_EQ(sinfo(s).unassigned, 1);
    size_t d = 0;
    ASSERT_OK(kvbm_sched_seq_drop_unassigned(s, 1, &d, NULL));
    EXPECT_EQ(d, 1);
    EXPECT_EQ(sinfo(s).unassigned, 0);
    EXPECT_EQ(log.ev[log.n - 1].kind, KVBM_SEQ_EV_UNASSIGNED_DROPPED);
    EXPECT_EQ(log.ev[log.n - 1].u.unassigned_dropped.count, 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(drop_unassigned_partial)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(4, 10, m, NULL);
    decode(s, 100, m);
    size_t d = 0;
    ASSERT_OK(kvbm_sched_seq_drop_unassigned(s, 5, &d, NULL));
    EXPECT_EQ(d, 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(drop_unassigned_zero)
{
    kvbm_manager *m = create_test_manager(20);
    ev_log log = { 0 };
    kvbm_sched_seq *s = prefilled_seq(4, 10, m, &log);
    decode(s, 100, m);
    size_t nev = log.n, d = 9;
    ASSERT_OK(kvbm_sched_seq_drop_unassigned(s, 0, &d, NULL));
    EXPECT_EQ(d, 0);
    EXPECT_EQ(sinfo(s).unassigned, 1);
    EXPECT_EQ(log.n, nev); /* no event when nothing was dropped */
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(delegate_full_lifecycle)
{
    kvbm_manager *m = create_test_manager(20);
    ev_log log = { 0 };
    kvbm_sched_seq *s = prefilled_seq(4, 3, m, &log);
    decode(s, 100, m);
    decode(s, 101, m);
    ASSERT_OK(kvbm_sched_seq_release(s, NULL));
    const kvbm_seq_event_kind want[] = {
        KVBM_SEQ_EV_CREATED, KVBM_SEQ_EV_PREFILL_SCHEDULED, KVBM_SEQ_EV_PREFILL_APPLIED,
        KVBM_SEQ_EV_DECODE_SCHEDULED, KVBM_SEQ_EV_DECODE_APPLIED, KVBM_SEQ_EV_DECODE_SCHEDULED,
        KVBM_SEQ_EV_DECODE_APPLIED, KVBM_SEQ_EV_RELEASED,
    };
    ASSERT_EQ(log.n, 8);
    for (size_t i = 0; i < 8; i++) EXPECT_EQ(log.ev[i].kind, want[i]);
    EXPECT_EQ(log.ev[4].u.decode_applied.token, 100);
    EXPECT_FALSE(log.ev[4].u.decode_applied.block_completed);
    EXPECT_EQ(log.ev[2].u.prefill_applied.num_tokens, 4);
    EXPECT_TRUE(log.ev[2].u.prefill_applied.token_emitted);
    EXPECT_TRUE(strcmp(kvbm_seq_event_kind_name(log.ev[7].kind), "Released") == 0);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(full_lifecycle_prefill_decode_release)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(6, 7, m, NULL);
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.assigned, 1);
    EXPECT_EQ(i.unassigned, 1);
    kvbm_decode_outcome o = KVBM_DECODE_CONTINUE;
    for (int k = 0; k < 6; k++) {
        o = decode(s, (kvbm_token)(100 + k), m);
        if (k < 5) EXPECT_FALSE(o & KVBM_DECODE_MAX_LENGTH);
    }
    EXPECT_TRUE(o & KVBM_DECODE_MAX_LENGTH);
    i = sinfo(s);
    EXPECT_EQ(i.generated, 7);
    EXPECT_EQ(i.total_tokens, 13);
    ASSERT_OK(kvbm_sched_seq_release(s, NULL));
    i = sinfo(s);
    EXPECT_EQ(i.assigned + i.staged + i.unassigned, 0);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(preempt_and_reacquire)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(8, 10, m, NULL);
    decode(s, 100, m);
    decode(s, 101, m);
    EXPECT_EQ(sinfo(s).generated, 3);
    ASSERT_OK(kvbm_sched_seq_release(s, NULL));
    bool ok = false;
    ASSERT_OK(kvbm_sched_seq_reacquire(s, m, &ok, NULL));
    EXPECT_TRUE(ok);
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.assigned, 2);
    EXPECT_EQ(i.prefix_matched, 2);
    EXPECT_EQ(i.unassigned, 0);
    decode(s, 102, m);
    EXPECT_EQ(sinfo(s).generated, 4);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(match_and_add_prefix)
{
    kvbm_manager *m = create_test_manager(20);
    cache_prefix(m, 4);
    ev_log log = { 0 };
    kvbm_sched_seq *s = mksched(8, 10, &log);
    size_t c = 0;
    ASSERT_OK(kvbm_sched_seq_match_prefix(s, m, &c, NULL));
    EXPECT_EQ(c, 1);
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.prefill_position, 4);
    EXPECT_EQ(i.kv_position, 4);
    EXPECT_EQ(i.assigned, 1);
    EXPECT_EQ(log.ev[log.n - 1].kind, KVBM_SEQ_EV_PREFIX_MATCHED);
    EXPECT_EQ(log.ev[log.n - 1].u.prefix_matched.blocks_matched, 1);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 4, m, NULL));
    ASSERT_OK(kvbm_sched_seq_apply_prefill(s, &T1000, m, NULL));
    i = sinfo(s);
    EXPECT_EQ(i.assigned, 2);
    EXPECT_EQ(i.unassigned, 0);
    EXPECT_EQ(i.tail_tokens, 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(match_and_add_prefix_no_hits)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    size_t c = 9;
    ASSERT_OK(kvbm_sched_seq_match_prefix(s, m, &c, NULL));
    EXPECT_EQ(c, 0);
    EXPECT_EQ(sinfo(s).prefill_position, 0);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(empty_tokens_prefill)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(0, 10, NULL);
    EXPECT_TRUE(sinfo(s).is_prefill_complete);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_schedule_prefill(s, 0, m, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_PREFILL_COMPLETE);
    EXPECT_STATUS(kvbm_sched_seq_schedule_decode(s, m, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_WRONG_DANGLING_COUNT);
    ASSERT_OK(kvbm_sched_seq_append_tokens(s, (const kvbm_token[]){ 100 }, 1, NULL));
    EXPECT_EQ(sinfo(s).tail_tokens, 1);
    EXPECT_EQ(decode(s, 101, m), KVBM_DECODE_CONTINUE);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(zero_max_output_no_gen_block)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(4, 0, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 4, m, NULL));
    ASSERT_OK(kvbm_sched_seq_apply_prefill(s, NULL, m, NULL));
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.assigned, 1);
    EXPECT_EQ(i.unassigned, 0);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_schedule_decode(s, m, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_GENERATION_COMPLETE);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(debug_impl)
{
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    char buf[700];
    kvbm_sched_seq_describe(s, buf, sizeof buf);
    EXPECT_TRUE(strstr(buf, "SchedulableSequence") != NULL);
    EXPECT_TRUE(strstr(buf, "Idle") != NULL);
    EXPECT_TRUE(strstr(buf, "RequestSequence") != NULL);
    kvbm_sched_seq_destroy(s);
}

KVBM_TEST(revert_idle_rejected)
{
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_revert(s, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_WRONG_STATE);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "expected any Scheduled state, got Idle") == 0);
    kvbm_sched_seq_destroy(s);
}

KVBM_TEST(release_while_scheduled_rejected)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 8, m, NULL));
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_release(s, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_WRONG_STATE);
    EXPECT_EQ(sinfo(s).unassigned, 2);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(reacquire_while_scheduled_rejected)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 8, m, NULL));
    bool ok = true;
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_reacquire(s, m, &ok, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_WRONG_STATE);
    EXPECT_FALSE(ok);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(dangling_tokens_tracking)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 20, NULL);
    EXPECT_EQ(sinfo(s).kv_position, 0);
    EXPECT_EQ(sinfo(s).tail_tokens, 8);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 8, m, NULL));
    ASSERT_OK(kvbm_sched_seq_apply_prefill(s, &T1000, m, NULL));
    EXPECT_EQ(sinfo(s).kv_position, 8);
    EXPECT_EQ(sinfo(s).tail_tokens, 1);
    decode(s, 100, m);
    EXPECT_EQ(sinfo(s).kv_position, 9);
    EXPECT_EQ(sinfo(s).tail_tokens, 1);
    ASSERT_OK(kvbm_sched_seq_schedule_speculative(s, 3, m, NULL));
    ASSERT_OK(kvbm_sched_seq_apply_speculative(s, (const kvbm_token[]){ 1, 2 }, 2, m, NULL, NULL));
    EXPECT_EQ(sinfo(s).kv_position, 11);
    EXPECT_EQ(sinfo(s).tail_tokens, 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(decode_requires_one_dangling)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(0, 10, NULL);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_schedule_decode(s, m, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_WRONG_DANGLING_COUNT);
    EXPECT_EQ(e.expected, 1);
    EXPECT_EQ(e.actual, 0);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "expected 1 dangling token(s), got 0") == 0);
    ASSERT_OK(kvbm_sched_seq_append_tokens(s, (const kvbm_token[]){ 1, 2 }, 2, NULL));
    EXPECT_STATUS(kvbm_sched_seq_schedule_decode(s, m, &e), KVBM_ESTATE);
    EXPECT_EQ(e.actual, 2);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(append_tokens_creates_dangling)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(0, 10, NULL);
    ASSERT_OK(kvbm_sched_seq_append_tokens(s, (const kvbm_token[]){ 100 }, 1, NULL));
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.tail_tokens, 1);
    EXPECT_EQ(i.total_tokens, 1);
    EXPECT_EQ(i.kv_position, 0);
    decode(s, 101, m);
    EXPECT_EQ(sinfo(s).kv_position, 1);
    EXPECT_EQ(sinfo(s).tail_tokens, 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(append_tokens_exceeding_remaining_returns_error_without_mutation)
{
    kvbm_sched_seq *s = mksched(0, 1, NULL);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_append_tokens(s, (const kvbm_token[]){ 1, 2 }, 2, &e), KVBM_ERANGE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_APPEND_EXCEEDS_REMAINING);
    EXPECT_EQ(e.requested, 2);
    EXPECT_EQ(e.remaining, 1);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "append requested 2 tokens but only 1 remain") == 0);
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.generated, 0);
    EXPECT_EQ(i.remaining, 1);
    EXPECT_EQ(i.total_tokens, 0);
    EXPECT_EQ(i.tail_tokens, 0);
    EXPECT_EQ(i.kv_position, 0);
    kvbm_sched_seq_destroy(s);
}

KVBM_TEST(kv_position_through_lifecycle)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 20, NULL);
    EXPECT_EQ(sinfo(s).kv_position, 0);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 4, m, NULL));
    ASSERT_OK(kvbm_sched_seq_apply_prefill(s, NULL, m, NULL));
    EXPECT_EQ(sinfo(s).kv_position, 4);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 4, m, NULL));
    ASSERT_OK(kvbm_sched_seq_apply_prefill(s, &T1000, m, NULL));
    EXPECT_EQ(sinfo(s).kv_position, 8);
    decode(s, 100, m);
    EXPECT_EQ(sinfo(s).kv_position, 9);
    ASSERT_OK(kvbm_sched_seq_schedule_speculative(s, 3, m, NULL));
    ASSERT_OK(kvbm_sched_seq_apply_speculative(s, (const kvbm_token[]){ 1, 2, 3 }, 3, m, NULL, NULL));
    EXPECT_EQ(sinfo(s).kv_position, 12);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(pending_completion_staged_during_decode)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(7, 10, m, NULL);
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.assigned, 1);
    EXPECT_EQ(i.unassigned, 1);
    ASSERT_OK(kvbm_sched_seq_schedule_decode(s, m, NULL));
    EXPECT_EQ(kvbm_sched_seq_state(s).blocks_allocated, 1);
    kvbm_decode_outcome o;
    ASSERT_OK(kvbm_sched_seq_apply_decode(s, 100, m, &o, NULL));
    EXPECT_EQ(o, KVBM_DECODE_CONTINUE);
    i = sinfo(s);
    EXPECT_EQ(i.assigned, 2);
    EXPECT_EQ(i.unassigned, 1);
    EXPECT_EQ(i.kv_position, 8);
    EXPECT_EQ(i.tail_tokens, 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(builder_basic)
{
    kvbm_token t[6] = { 0, 1, 2, 3, 4, 5 };
    kvbm_sched_seq_config c = KVBM_SCHED_SEQ_CONFIG_INIT;
    kvbm_sched_seq_config_set_tokens(&c, t, 6);
    kvbm_sched_seq_config_set_max_output(&c, 9);
    kvbm_sched_seq_config_set_block_size(&c, 4);
    kvbm_sched_seq *s = NULL;
    ASSERT_OK(kvbm_sched_seq_create(&c, &s, NULL));
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.state.kind, KVBM_SCHED_IDLE);
    EXPECT_EQ(i.num_input, 6);
    EXPECT_EQ(i.max_output, 9);
    EXPECT_EQ(i.block_size, 4);
    EXPECT_EQ(i.num_blocks, 1);
    kvbm_sched_seq_destroy(s);
}

KVBM_TEST(builder_with_delegate)
{
    ev_log log = { 0 };
    kvbm_sched_seq *s = mksched(4, 2, &log);
    ASSERT_EQ(log.n, 1);
    EXPECT_EQ(log.ev[0].kind, KVBM_SEQ_EV_CREATED);
    kvbm_sched_seq_destroy(s);
}

KVBM_TEST(builder_missing_required_field)
{
    kvbm_token t[4] = { 0, 1, 2, 3 };
    kvbm_sched_seq_config c = KVBM_SCHED_SEQ_CONFIG_INIT;
    kvbm_sched_seq_config_set_tokens(&c, t, 4);
    kvbm_sched_seq *s = NULL;
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_create(&c, &s, &e), KVBM_EINVAL);
    EXPECT_TRUE(s == NULL);
    EXPECT_EQ(e.kind, KVBM_SEQERR_MISSING_FIELD);
    EXPECT_TRUE(strcmp(e.field, "max_output_tokens") == 0);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "`max_output_tokens` must be initialized") == 0);
    kvbm_sched_seq_config_set_max_output(&c, 0); /* zero is a legal value */
    EXPECT_STATUS(kvbm_sched_seq_create(&c, &s, &e), KVBM_EINVAL);
    EXPECT_TRUE(strcmp(e.field, "block_size") == 0);
    kvbm_sched_seq_config c2 = KVBM_SCHED_SEQ_CONFIG_INIT;
    EXPECT_STATUS(kvbm_sched_seq_create(&c2, &s, &e), KVBM_EINVAL);
    EXPECT_TRUE(strcmp(e.field, "tokens") == 0);
}

KVBM_TEST(builder_default_noop_delegate)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(4, 3, m, NULL);
    ASSERT_TRUE(s != NULL);
    decode(s, 1, m);
    decode(s, 2, m);
    ASSERT_OK(kvbm_sched_seq_release(s, NULL));
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}
