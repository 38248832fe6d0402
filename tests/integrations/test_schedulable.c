/* tests/integrations/test_schedulable.c - SchedulableSequence, first half of spec 30 §5.6
 * (scheduled.rs; manager with 20 blocks, bs 4, LRU unless noted): states, prefill,
 * decode, speculative. The second half is test_schedulable_life.c. */
#include "support/seq_helpers.h"


static kvbm_status sched_prefill(kvbm_sched_seq *s, size_t n, kvbm_manager *m)
{
    return kvbm_sched_seq_schedule_prefill(s, n, m, NULL);
}
static kvbm_status apply_prefill(kvbm_sched_seq *s, const kvbm_token *t, kvbm_manager *m)
{
    return kvbm_sched_seq_apply_prefill(s, t, m, NULL);
}
KVBM_TEST(new_starts_idle)
{
    ev_log log = { 0 };
    kvbm_sched_seq *s = mksched(8, 10, &log);
    ASSERT_TRUE(s != NULL);
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.state.kind, KVBM_SCHED_IDLE);
    EXPECT_EQ(i.prefill_position, 0);
    EXPECT_EQ(i.kv_position, 0);
    EXPECT_EQ(i.tail_tokens, 8);
    ASSERT_EQ(log.n, 1);
    EXPECT_EQ(log.ev[0].kind, KVBM_SEQ_EV_CREATED);
    EXPECT_EQ(log.ev[0].u.created.num_input_tokens, 8);
    EXPECT_EQ(log.ev[0].u.created.max_output_tokens, 10);
    EXPECT_EQ(log.ev[0].u.created.block_size, 4);
    kvbm_sched_seq_destroy(s);
    EXPECT_EQ(log.released, 1);
}

KVBM_TEST(schedule_prefill_requires_idle)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    ASSERT_OK(sched_prefill(s, 4, m));
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_schedule_prefill(s, 4, m, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_NOT_IDLE);
    EXPECT_EQ(e.state.kind, KVBM_SCHED_PREFILL);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "expected Idle state, got PrefillScheduled { num_tokens: 4, "
                                          "blocks_allocated: 1 }") == 0);
    EXPECT_EQ(sinfo(s).unassigned, 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(schedule_decode_requires_idle)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(5, 10, m, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_decode(s, m, NULL));
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_schedule_decode(s, m, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_NOT_IDLE);
    EXPECT_EQ(ST(s), KVBM_SCHED_DECODE);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(apply_prefill_requires_scheduled)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_apply_prefill(s, &T1000, m, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_WRONG_STATE);
    EXPECT_TRUE(strcmp(e.expected_state, "PrefillScheduled") == 0);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "expected PrefillScheduled, got Idle") == 0);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(apply_decode_requires_scheduled)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(5, 10, m, NULL);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_apply_decode(s, 1, m, NULL, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_WRONG_STATE);
    EXPECT_EQ(sinfo(s).generated, 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(decode_requires_prefill_complete)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_schedule_decode(s, m, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_PREFILL_NOT_COMPLETE);
    EXPECT_EQ(e.position, 0);
    EXPECT_EQ(e.num_input_tokens, 8);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "prefill not yet complete (position 0 < 8)") == 0);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(speculative_requires_prefill_complete)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_schedule_speculative(s, 2, m, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_PREFILL_NOT_COMPLETE);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(prefill_single_chunk)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    ASSERT_OK(sched_prefill(s, 8, m));
    kvbm_sched_state st = kvbm_sched_seq_state(s);
    EXPECT_EQ(st.kind, KVBM_SCHED_PREFILL);
    EXPECT_EQ(st.num_tokens, 8);
    EXPECT_EQ(st.blocks_allocated, 2);
    ASSERT_OK(apply_prefill(s, &T1000, m));
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.prefill_position, 8);
    EXPECT_EQ(i.kv_position, 8);
    EXPECT_EQ(i.assigned, 2);
    EXPECT_EQ(i.unassigned, 0);
    EXPECT_EQ(i.tail_tokens, 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(prefill_chunked)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    ASSERT_OK(sched_prefill(s, 4, m));
    ASSERT_OK(apply_prefill(s, NULL, m));
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.prefill_position, 4);
    EXPECT_EQ(i.kv_position, 4);
    EXPECT_EQ(i.assigned, 1);
    ASSERT_OK(sched_prefill(s, 4, m));
    ASSERT_OK(apply_prefill(s, &T1000, m));
    i = sinfo(s);
    EXPECT_EQ(i.prefill_position, 8);
    EXPECT_EQ(i.kv_position, 8);
    EXPECT_EQ(i.assigned, 2);
    EXPECT_EQ(i.unassigned, 0);
    EXPECT_EQ(i.tail_tokens, 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(prefill_final_with_first_token)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(4, 10, m, NULL);
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.generated, 1);
    EXPECT_EQ(i.total_tokens, 5);
    EXPECT_EQ(i.kv_position, 4);
    EXPECT_EQ(i.tail_tokens, 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(prefill_token_on_non_final_rejected)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    ASSERT_OK(sched_prefill(s, 4, m));
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_apply_prefill(s, &T1000, m, &e), KVBM_EINVAL);
    EXPECT_EQ(e.kind, KVBM_SEQERR_TOKEN_ON_NON_FINAL_CHUNK);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "token provided but prefill not completing this chunk") == 0);
    EXPECT_EQ(ST(s), KVBM_SCHED_PREFILL); /* the schedule stays pending */
    EXPECT_EQ(sinfo(s).prefill_position, 0);
    ASSERT_OK(apply_prefill(s, NULL, m)); /* retry with correct arguments */
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(prefill_overrun_rejected)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_schedule_prefill(s, 9, m, &e), KVBM_ERANGE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_PREFILL_OVERRUN);
    EXPECT_EQ(e.position, 0);
    EXPECT_EQ(e.num_tokens, 9);
    EXPECT_EQ(e.num_input_tokens, 8);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "prefill overrun: position 0 + 9 > 8") == 0);
    EXPECT_EQ(ST(s), KVBM_SCHED_IDLE);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(prefill_allocation_failure)
{
    kvbm_manager *m = create_test_manager(1);
    kvbm_sched_seq *s = mksched(8, 10, NULL);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_schedule_prefill(s, 8, m, &e), KVBM_EEXHAUSTED);
    EXPECT_EQ(e.kind, KVBM_SEQERR_ALLOCATION_FAILED);
    EXPECT_EQ(e.needed, 2);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "allocation failed: needed 2 blocks") == 0);
    EXPECT_EQ(ST(s), KVBM_SCHED_IDLE);
    EXPECT_EQ(sinfo(s).unassigned, 0);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(schedule_prefill_after_complete_rejected)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(4, 10, m, NULL);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_schedule_prefill(s, 1, m, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_PREFILL_COMPLETE);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "prefill already complete") == 0);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(apply_prefill_none_on_final_rejected)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(4, 10, NULL);
    ASSERT_OK(sched_prefill(s, 4, m));
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_apply_prefill(s, NULL, m, &e), KVBM_EINVAL);
    EXPECT_EQ(e.kind, KVBM_SEQERR_MISSING_TOKEN_ON_FINAL_CHUNK);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "final prefill chunk requires a generated token") == 0);
    EXPECT_EQ(ST(s), KVBM_SCHED_PREFILL);
    EXPECT_EQ(sinfo(s).assigned, 0);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(decode_continue)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(5, 10, m, NULL);
    EXPECT_EQ(decode(s, 100, m), KVBM_DECODE_CONTINUE);
    EXPECT_EQ(sinfo(s).generated, 2);
    EXPECT_EQ(ST(s), KVBM_SCHED_IDLE);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(decode_block_completed)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(4, 10, m, NULL);
    EXPECT_EQ(decode(s, 100, m), KVBM_DECODE_CONTINUE);
    EXPECT_EQ(decode(s, 101, m), KVBM_DECODE_CONTINUE);
    EXPECT_EQ(decode(s, 102, m), KVBM_DECODE_BLOCK_COMPLETED);
    EXPECT_EQ(sinfo(s).assigned, 2); /* H1: registered right away */
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(decode_max_length)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(5, 2, m, NULL);
    EXPECT_EQ(decode(s, 100, m), KVBM_DECODE_MAX_LENGTH);
    EXPECT_TRUE(sinfo(s).is_complete);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(decode_block_and_max)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(4, 4, m, NULL);
    EXPECT_EQ(decode(s, 100, m), KVBM_DECODE_CONTINUE);
    EXPECT_EQ(decode(s, 101, m), KVBM_DECODE_CONTINUE);
    EXPECT_EQ(decode(s, 102, m), KVBM_DECODE_BLOCK_COMPLETED_AND_MAX_LENGTH);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(decode_allocates_gen_block)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(4, 10, m, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_decode(s, m, NULL));
    kvbm_sched_state st = kvbm_sched_seq_state(s);
    EXPECT_EQ(st.kind, KVBM_SCHED_DECODE);
    EXPECT_EQ(st.blocks_allocated, 1);
    EXPECT_EQ(sinfo(s).unassigned, 1);
    ASSERT_OK(kvbm_sched_seq_apply_decode(s, 100, m, NULL, NULL));
    EXPECT_EQ(decode(s, 101, m), KVBM_DECODE_CONTINUE);
    EXPECT_EQ(decode(s, 102, m), KVBM_DECODE_BLOCK_COMPLETED);
    EXPECT_EQ(sinfo(s).unassigned, 0);
    ASSERT_OK(kvbm_sched_seq_schedule_decode(s, m, NULL));
    EXPECT_EQ(kvbm_sched_seq_state(s).blocks_allocated, 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(decode_generation_complete_rejected)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(5, 2, m, NULL);
    decode(s, 100, m);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_schedule_decode(s, m, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_GENERATION_COMPLETE);
    EXPECT_EQ(e.generated, 2);
    EXPECT_EQ(e.max_output, 2);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "generation complete: 2 >= 2") == 0);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(speculative_basic)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(8, 10, m, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_speculative(s, 2, m, NULL));
    kvbm_sched_state st = kvbm_sched_seq_state(s);
    EXPECT_EQ(st.kind, KVBM_SCHED_SPECULATIVE);
    EXPECT_EQ(st.num_tokens, 2);
    kvbm_decode_outcome o;
    ASSERT_OK(kvbm_sched_seq_apply_speculative(s, (const kvbm_token[]){ 100, 101 }, 2, m, &o, NULL));
    EXPECT_EQ(o, KVBM_DECODE_CONTINUE);
    EXPECT_EQ(sinfo(s).generated, 3);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(speculative_partial_accept)
{
    kvbm_manager *m = create_test_manager(20);
    ev_log log = { 0 };
    kvbm_sched_seq *s = prefilled_seq(4, 10, m, &log);
    ASSERT_OK(kvbm_sched_seq_schedule_speculative(s, 4, m, NULL));
    EXPECT_EQ(kvbm_sched_seq_state(s).num_tokens, 4);
    EXPECT_EQ(kvbm_sched_seq_state(s).blocks_allocated, 2);
    kvbm_decode_outcome o;
    ASSERT_OK(kvbm_sched_seq_apply_speculative(s, (const kvbm_token[]){ 100, 101 }, 2, m, &o, NULL));
    EXPECT_EQ(o, KVBM_DECODE_CONTINUE);
    const kvbm_seq_event *ev = &log.ev[log.n - 1];
    EXPECT_EQ(ev->kind, KVBM_SEQ_EV_SPECULATIVE_APPLIED);
    EXPECT_EQ(ev->u.speculative_applied.accepted, 2);
    EXPECT_EQ(ev->u.speculative_applied.scheduled, 4);
    EXPECT_EQ(ev->u.speculative_applied.blocks_released, 1);
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.unassigned, 1);
    EXPECT_EQ(i.total_tokens, 7);
    EXPECT_EQ(i.kv_position, 6);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(speculative_single_accept)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(8, 10, m, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_speculative(s, 5, m, NULL));
    kvbm_decode_outcome o;
    ASSERT_OK(kvbm_sched_seq_apply_speculative(s, (const kvbm_token[]){ 100 }, 1, m, &o, NULL));
    EXPECT_EQ(o, KVBM_DECODE_CONTINUE);
    EXPECT_EQ(sinfo(s).generated, 2);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(speculative_zero_accept)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(8, 10, m, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_speculative(s, 3, m, NULL));
    uint64_t after_sched = kvbm_manager_available_blocks(m);
    kvbm_decode_outcome o;
    ASSERT_OK(kvbm_sched_seq_apply_speculative(s, NULL, 0, m, &o, NULL));
    EXPECT_EQ(o, KVBM_DECODE_CONTINUE);
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.generated, 1);
    EXPECT_EQ(i.unassigned, 1);
    EXPECT_EQ(i.tail_tokens, 1);
    EXPECT_GE(kvbm_manager_available_blocks(m), after_sched);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(speculative_exceeds_scheduled_rejected)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(8, 10, m, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_speculative(s, 2, m, NULL));
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_apply_speculative(s, (const kvbm_token[]){ 1, 2, 3 }, 3, m, NULL, &e),
                  KVBM_ERANGE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_ACCEPTED_EXCEEDS_SCHEDULED);
    EXPECT_EQ(e.accepted, 3);
    EXPECT_EQ(e.scheduled, 2);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "accepted 3 tokens exceeds scheduled 2") == 0);
    EXPECT_EQ(ST(s), KVBM_SCHED_SPECULATIVE);
    EXPECT_EQ(sinfo(s).generated, 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(speculative_block_boundaries)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(7, 20, m, NULL);
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.assigned, 1);
    EXPECT_EQ(i.unassigned, 1);
    EXPECT_EQ(i.total_tokens, 8);
    ASSERT_OK(kvbm_sched_seq_schedule_speculative(s, 5, m, NULL));
    EXPECT_EQ(kvbm_sched_seq_state(s).blocks_allocated, 2);
    kvbm_decode_outcome o;
    ASSERT_OK(kvbm_sched_seq_apply_speculative(s, (const kvbm_token[]){ 1, 2, 3, 4, 5 }, 5, m, &o, NULL));
    EXPECT_EQ(o, KVBM_DECODE_BLOCK_COMPLETED);
    i = sinfo(s);
    EXPECT_EQ(i.generated, 6);
    EXPECT_EQ(i.total_tokens, 13);
    EXPECT_EQ(i.assigned, 3);
    EXPECT_EQ(i.unassigned, 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}
