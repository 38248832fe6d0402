/* tests/integrations/test_schedulable_bad.c - bad input of issue 19 (spec 30 §6.4: every
 * reference panic is a status and the sequence is unchanged, one by one) and the
 * SchedulableSequence gap tests of §5.8. */
#include <stdlib.h>

#include "support/seq_helpers.h"


/* Every field of the snapshot, for "unchanged" checks. */
static bool same_info(kvbm_sched_seq_info a, kvbm_sched_seq_info b)
{
    return a.state.kind == b.state.kind && a.state.num_tokens == b.state.num_tokens &&
           a.state.blocks_allocated == b.state.blocks_allocated &&
           a.prefill_position == b.prefill_position && a.kv_position == b.kv_position &&
           a.generated == b.generated && a.total_tokens == b.total_tokens &&
           a.num_blocks == b.num_blocks && a.assigned == b.assigned && a.staged == b.staged &&
           a.unassigned == b.unassigned && a.prefix_matched == b.prefix_matched;
}

KVBM_TEST(bad_create_block_size_zero_and_not_power_of_two)
{
    kvbm_token t[4] = { 0, 1, 2, 3 };
    kvbm_sched_seq_config c = KVBM_SCHED_SEQ_CONFIG_INIT;
    kvbm_sched_seq_config_set_tokens(&c, t, 4);
    kvbm_sched_seq_config_set_max_output(&c, 4);
    kvbm_sched_seq_config_set_block_size(&c, 0);
    ev_log log = { 0 };
    c.delegate = ev_log_delegate(&log);
    kvbm_sched_seq *s = NULL;
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_create(&c, &s, &e), KVBM_EINVAL);
    EXPECT_EQ(e.kind, KVBM_SEQERR_BAD_ARGUMENT);
    EXPECT_TRUE(s == NULL);
    kvbm_sched_seq_config_set_block_size(&c, 12);
    EXPECT_STATUS(kvbm_sched_seq_create(&c, &s, &e), KVBM_EINVAL);
    EXPECT_EQ(log.n, 0);        /* no Created on failure */
    EXPECT_EQ(log.released, 0); /* the caller still owns the delegate */
    EXPECT_STATUS(kvbm_sched_seq_create(NULL, &s, NULL), KVBM_EINVAL);
}

KVBM_TEST(bad_h7_block_size_differs_from_manager_at_creation)
{
    kvbm_manager *m = create_test_manager_with_block_size(20, 16);
    kvbm_token t[4] = { 0, 1, 2, 3 };
    kvbm_sched_seq_config c = KVBM_SCHED_SEQ_CONFIG_INIT;
    kvbm_sched_seq_config_set_tokens(&c, t, 4);
    kvbm_sched_seq_config_set_max_output(&c, 4);
    kvbm_sched_seq_config_set_block_size(&c, 4);
    c.manager = m;
    kvbm_sched_seq *s = NULL;
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_create(&c, &s, &e), KVBM_EINVAL);
    EXPECT_EQ(e.kind, KVBM_SEQERR_BLOCK_SIZE_MISMATCH);
    EXPECT_EQ(e.expected, 16);
    EXPECT_EQ(e.actual, 4);
    EXPECT_TRUE(strstr(kvbm_last_error(), "16") != NULL && strstr(kvbm_last_error(), "4") != NULL);
    EXPECT_TRUE(s == NULL);
    kvbm_sched_seq_config_set_block_size(&c, 16);
    ASSERT_OK(kvbm_sched_seq_create(&c, &s, NULL));
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(bad_h7_block_size_differs_from_manager_at_first_use)
{
    kvbm_manager *m = create_test_manager_with_block_size(20, 8);
    kvbm_sched_seq *s = mksched(8, 4, NULL);
    kvbm_sched_seq_info before = sinfo(s);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_schedule_prefill(s, 8, m, &e), KVBM_EINVAL);
    EXPECT_EQ(e.kind, KVBM_SEQERR_BLOCK_SIZE_MISMATCH);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "Block size mismatch: expected 8 tokens, got 4") == 0);
    EXPECT_STATUS(kvbm_sched_seq_match_prefix(s, m, NULL, NULL), KVBM_EINVAL);
    EXPECT_TRUE(same_info(before, sinfo(s)));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(bad_match_prefix_while_holding_blocks)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 4, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 4, m, NULL));
    ASSERT_OK(kvbm_sched_seq_apply_prefill(s, NULL, m, NULL));
    kvbm_sched_seq_info before = sinfo(s);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_match_prefix(s, m, NULL, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_PRECONDITION);
    EXPECT_TRUE(same_info(before, sinfo(s)));
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(bad_reacquire_while_holding_blocks)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 4, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 4, m, NULL));
    ASSERT_OK(kvbm_sched_seq_apply_prefill(s, NULL, m, NULL));
    kvbm_sched_seq_info before = sinfo(s);
    bool ok = true;
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_reacquire(s, m, &ok, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_PRECONDITION);
    EXPECT_TRUE(same_info(before, sinfo(s)));
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(bad_drop_unassigned_outside_idle)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 4, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 8, m, NULL));
    kvbm_sched_seq_info before = sinfo(s);
    size_t d = 9;
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_drop_unassigned(s, 2, &d, &e), KVBM_ESTATE);
    EXPECT_EQ(d, 0);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "drop_unassigned called in non-Idle state") == 0);
    EXPECT_TRUE(same_info(before, sinfo(s)));
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(gap_apply_prefill_token_with_zero_budget)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(8, 0, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 8, m, NULL));
    kvbm_sched_seq_info before = sinfo(s);
    uint64_t avail = kvbm_manager_available_blocks(m);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_apply_prefill(s, &T1000, m, &e), KVBM_ERANGE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_PRECONDITION);
    /* checked before any change: nothing registered, positions unchanged (kvbm divergence) */
    EXPECT_TRUE(same_info(before, sinfo(s)));
    EXPECT_EQ(sinfo(s).assigned, 0);
    EXPECT_EQ(kvbm_manager_available_blocks(m), avail);
    ASSERT_OK(kvbm_sched_seq_apply_prefill(s, NULL, m, NULL));
    EXPECT_EQ(sinfo(s).assigned, 2);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(bad_apply_errors_keep_the_schedule)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(4, 10, m, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_decode(s, m, NULL));
    kvbm_sched_seq_info before = sinfo(s);
    EXPECT_STATUS(kvbm_sched_seq_apply_prefill(s, &T1000, m, NULL), KVBM_ESTATE);
    EXPECT_STATUS(kvbm_sched_seq_apply_speculative(s, NULL, 0, m, NULL, NULL), KVBM_ESTATE);
    EXPECT_STATUS(kvbm_sched_seq_schedule_speculative(s, 1, m, NULL), KVBM_ESTATE);
    EXPECT_STATUS(kvbm_sched_seq_append_tokens(s, &T1000, 1, NULL), KVBM_ESTATE);
    EXPECT_STATUS(kvbm_sched_seq_release(s, NULL), KVBM_ESTATE);
    EXPECT_TRUE(same_info(before, sinfo(s)));
    ASSERT_OK(kvbm_sched_seq_apply_decode(s, 5, m, NULL, NULL));
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(bad_revert_twice)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(4, 10, m, NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_speculative(s, 4, m, NULL));
    ASSERT_OK(kvbm_sched_seq_revert(s, NULL));
    kvbm_sched_seq_info before = sinfo(s);
    uint64_t avail = kvbm_manager_available_blocks(m);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_sched_seq_revert(s, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_WRONG_STATE);
    EXPECT_TRUE(same_info(before, sinfo(s)));
    EXPECT_EQ(kvbm_manager_available_blocks(m), avail);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(bad_use_after_release)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(8, 10, m, NULL);
    ASSERT_OK(kvbm_sched_seq_release(s, NULL));
    ASSERT_OK(kvbm_sched_seq_release(s, NULL)); /* idempotent */
    kvbm_sched_seq_info before = sinfo(s);
    EXPECT_STATUS(kvbm_sched_seq_apply_decode(s, 1, m, NULL, NULL), KVBM_ESTATE);
    EXPECT_STATUS(kvbm_sched_seq_revert(s, NULL), KVBM_ESTATE);
    EXPECT_STATUS(kvbm_sched_seq_schedule_prefill(s, 1, m, NULL), KVBM_ESTATE); /* prefill complete */
    EXPECT_TRUE(same_info(before, sinfo(s)));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    /* no check that blocks are held (H5): decode allocates every complete block + 1 */
    ASSERT_OK(kvbm_sched_seq_schedule_decode(s, m, NULL));
    EXPECT_EQ(kvbm_sched_seq_state(s).blocks_allocated, 3);
    ASSERT_OK(kvbm_sched_seq_revert(s, NULL));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

/* A delegate that calls back into its own sequence. */
typedef struct reentrant { kvbm_sched_seq *s; kvbm_status st; int calls; } reentrant;
static void reenter(void *user, const kvbm_seq_event *ev)
{
    reentrant *r = user;
    if (r->s == NULL || ev->kind != KVBM_SEQ_EV_DECODE_SCHEDULED) return;
    r->calls++;
    r->st = kvbm_sched_seq_revert(r->s, NULL);
}

KVBM_TEST(bad_delegate_calls_into_its_own_sequence)
{
    kvbm_manager *m = create_test_manager(20);
    reentrant r = { NULL, KVBM_OK, 0 };
    kvbm_token t[4] = { 0, 1, 2, 3 };
    kvbm_sched_seq_config c = KVBM_SCHED_SEQ_CONFIG_INIT;
    kvbm_sched_seq_config_set_tokens(&c, t, 4);
    kvbm_sched_seq_config_set_max_output(&c, 4);
    kvbm_sched_seq_config_set_block_size(&c, 4);
    c.delegate.on_event = reenter;
    c.delegate.user = &r;
    kvbm_sched_seq *s = NULL;
    ASSERT_OK(kvbm_sched_seq_create(&c, &s, NULL));
    r.s = s;
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 4, m, NULL));
    ASSERT_OK(kvbm_sched_seq_apply_prefill(s, &T1000, m, NULL));
    ASSERT_OK(kvbm_sched_seq_schedule_decode(s, m, NULL));
    EXPECT_EQ(r.calls, 1);
    EXPECT_STATUS(r.st, KVBM_ESTATE);
    EXPECT_EQ(ST(s), KVBM_SCHED_DECODE); /* the nested revert did nothing */
    ASSERT_OK(kvbm_sched_seq_apply_decode(s, 7, m, NULL, NULL));
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(bad_error_format_covers_every_kind)
{
    char buf[256];
    for (int k = KVBM_SEQERR_NONE; k <= KVBM_SEQERR_MANAGER; k++) {
        kvbm_seq_error e = { .kind = (kvbm_seq_error_kind)k };
        EXPECT_GT(kvbm_seq_error_format(&e, buf, sizeof buf), 0);
        EXPECT_TRUE(strcmp(kvbm_seq_error_kind_name(e.kind), "UNKNOWN") != 0);
    }
}

/* ---- gap tests (§5.8) ---------------------------------------------------------------- */

KVBM_TEST(gap_h2_chunk_boundary_not_aligned)
{
    kvbm_manager *m = create_test_manager(20);
    ev_log log = { 0 };
    kvbm_sched_seq *s = mksched(8, 10, &log);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 6, m, NULL));
    EXPECT_EQ(kvbm_sched_seq_state(s).blocks_allocated, 2);
    ASSERT_OK(kvbm_sched_seq_apply_prefill(s, NULL, m, NULL));
    EXPECT_EQ(sinfo(s).assigned, 2); /* the block holding the chunk end registered early */
    EXPECT_EQ(log.ev[log.n - 1].u.prefill_applied.blocks_registered, 2);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 2, m, NULL));
    EXPECT_EQ(kvbm_sched_seq_state(s).blocks_allocated, 0);
    ASSERT_OK(kvbm_sched_seq_apply_prefill(s, &T1000, m, NULL));
    EXPECT_EQ(log.ev[log.n - 1].u.prefill_applied.blocks_registered, 0);
    EXPECT_EQ(sinfo(s).assigned, 2);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(gap_event_payloads)
{
    kvbm_manager *m = create_test_manager(4);
    ev_log log = { 0 };
    kvbm_sched_seq *s = mksched(8, 10, &log);
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 8, m, NULL));
    ASSERT_OK(kvbm_sched_seq_apply_prefill(s, &T1000, m, NULL));
    EXPECT_EQ(log.ev[log.n - 1].u.prefill_applied.blocks_registered, 2);
    ASSERT_OK(kvbm_sched_seq_schedule_speculative(s, 5, m, NULL));
    size_t alloc = kvbm_sched_seq_state(s).blocks_allocated;
    EXPECT_EQ(alloc, 2);
    ASSERT_OK(kvbm_sched_seq_revert(s, NULL));
    EXPECT_EQ(log.ev[log.n - 1].kind, KVBM_SEQ_EV_SCHEDULE_REVERTED);
    EXPECT_EQ(log.ev[log.n - 1].u.schedule_reverted.blocks_released, alloc);
    /* a successful reacquire sets prefix_matched = 2 */
    ASSERT_OK(kvbm_sched_seq_release(s, NULL));
    bool ok = false;
    ASSERT_OK(kvbm_sched_seq_reacquire(s, m, &ok, NULL));
    EXPECT_TRUE(ok);
    EXPECT_EQ(log.ev[log.n - 1].u.reacquired.prefix_matched, 2);
    ASSERT_OK(kvbm_sched_seq_release(s, NULL));
    /* someone else takes every block: reacquire fails and reports the stale value */
    kvbm_mutable *mb[4];
    ASSERT_OK(kvbm_manager_allocate(m, 4, mb, NULL, NULL));
    ASSERT_OK(kvbm_sched_seq_reacquire(s, m, &ok, NULL));
    EXPECT_FALSE(ok);
    const kvbm_seq_event *ev = &log.ev[log.n - 1];
    EXPECT_EQ(ev->kind, KVBM_SEQ_EV_REACQUIRED);
    EXPECT_FALSE(ev->u.reacquired.success);
    EXPECT_EQ(ev->u.reacquired.prefix_matched, 2);
    EXPECT_EQ(sinfo(s).assigned + sinfo(s).unassigned, 0);
    tm_release_mutables(mb, 4);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(gap_release_order_prefix_root_evicted_first)
{
    kvbm_manager *m = create_test_manager(3);
    kvbm_token *t = iota_tokens(0, 8);
    kvbm_request_seq *r = NULL;
    ASSERT_OK(kvbm_request_seq_create(t, 8, 10, 4, NULL, &r));
    kvbm_plh h[2];
    tm_chain_hashes(t, 8, 4, 0, h);
    free(t);
    ASSERT_OK(kvbm_request_seq_allocate_blocks(r, 3, m, NULL));
    ASSERT_OK(kvbm_request_seq_complete_and_register_pending(r, m, NULL, NULL));
    uint32_t pages[3];
    size_t n;
    ASSERT_OK(kvbm_request_seq_page_indices(r, pages, 3, &n));
    ASSERT_EQ(n, 3);
    EXPECT_OK(kvbm_request_seq_release(r));
    kvbm_mutable *a, *b;
    ASSERT_OK(kvbm_manager_allocate(m, 1, &a, NULL, NULL));
    EXPECT_EQ(kvbm_mutable_block_id(a), pages[2]); /* the generation block, from reset */
    ASSERT_OK(kvbm_manager_allocate(m, 1, &b, NULL, NULL));
    EXPECT_EQ(kvbm_mutable_block_id(b), pages[0]); /* evicts position 0 first */
    kvbm_block *got[2];
    size_t matched = 9;
    ASSERT_OK(kvbm_manager_match_blocks(m, &h[0], 1, got, &matched));
    EXPECT_EQ(matched, 0);
    ASSERT_OK(kvbm_manager_match_blocks(m, &h[1], 1, got, &matched));
    EXPECT_EQ(matched, 1);
    tm_release_blocks(got, matched);
    EXPECT_OK(kvbm_mutable_release(a));
    EXPECT_OK(kvbm_mutable_release(b));
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}
