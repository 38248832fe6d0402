/* tests/integrations/test_narrative.c - the end-to-end usage narrative of spec 30 §4, one
 * test per step group (admit, chunked prefill, decode across block boundaries, speculative
 * decode with partial acceptance, preemption with revert/release, resume with reacquire,
 * multi-tier planning), the low-level RequestSequence variant (§4.3) and E1-E5 (§4.5). */
#include <stdlib.h>

#include "support/seq_helpers.h"


static size_t pages(const kvbm_sched_seq *s, uint32_t *out, size_t cap)
{
    size_t n = 0;
    if (kvbm_request_seq_page_indices(kvbm_sched_seq_request(s), out, cap, &n) != KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "page_indices");
    return n;
}

/* how many leading blocks of tokens 0..n-1 the manager can match */
static size_t matchable(kvbm_manager *m, size_t ntokens)
{
    kvbm_token *t = iota_tokens(0, ntokens);
    kvbm_plh h[64];
    kvbm_block *b[64];
    size_t nb = tm_chain_hashes(t, ntokens - ntokens % 4, 4, 0, h), got = 0;
    free(t);
    if (kvbm_manager_match_blocks(m, h, nb, b, &got) != KVBM_OK) return 999;
    tm_release_blocks(b, got);
    return got;
}

KVBM_TEST(narrative_admit_and_prefix_match)
{
    kvbm_manager *m = create_test_manager(20);
    cache_prefix(m, 8); /* an earlier request left two blocks cached (inactive) */
    EXPECT_EQ(kvbm_manager_inactive_len(m), 2);
    ev_log log = { 0 };
    kvbm_sched_seq *s = mksched(14, 4, &log);
    EXPECT_EQ(log.ev[0].kind, KVBM_SEQ_EV_CREATED);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20); /* nothing allocated on arrival */
    size_t c = 0;
    ASSERT_OK(kvbm_sched_seq_match_prefix(s, m, &c, NULL));
    EXPECT_EQ(c, 2);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0); /* resurrected to active */
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.prefill_position, 8);
    EXPECT_EQ(i.kv_position, 8);
    EXPECT_EQ(i.new_tokens_for_prefill, 6); /* the compute cost */
    EXPECT_EQ(log.ev[1].kind, KVBM_SEQ_EV_PREFIX_MATCHED);
    kvbm_sched_seq_destroy(s);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 2); /* back to the cache */
    tm_manager_destroy(m);
}

KVBM_TEST(narrative_chunked_prefill_and_registration)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = mksched(14, 4, NULL);
    uint32_t pg[16];
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 5, m, NULL));
    EXPECT_EQ(pages(s, pg, 16), 2); /* ceil(5/4) blocks for the runner */
    EXPECT_EQ(matchable(m, 14), 0);
    ASSERT_OK(kvbm_sched_seq_apply_prefill(s, NULL, m, NULL));
    EXPECT_EQ(matchable(m, 14), 2); /* H2: the block holding the chunk end too */
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 5, m, NULL));
    EXPECT_EQ(pages(s, pg, 16), 3);
    ASSERT_OK(kvbm_sched_seq_apply_prefill(s, NULL, m, NULL));
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(s, 4, m, NULL));
    EXPECT_EQ(pages(s, pg, 16), 4);
    ASSERT_OK(kvbm_sched_seq_apply_prefill(s, &T1000, m, NULL));
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.prefill_position, 14);
    EXPECT_EQ(i.tail_tokens, 1);
    EXPECT_EQ(i.assigned, 3);
    EXPECT_EQ(matchable(m, 14), 3);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(narrative_decode_across_block_boundaries)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(6, 10, m, NULL);
    int completed = 0;
    for (kvbm_token t = 1; t <= 9; t++) {
        ASSERT_OK(kvbm_sched_seq_schedule_decode(s, m, NULL));
        kvbm_decode_outcome o;
        ASSERT_OK(kvbm_sched_seq_apply_decode(s, t, m, &o, NULL));
        if (o & KVBM_DECODE_BLOCK_COMPLETED) completed++;
        kvbm_sched_seq_info i = sinfo(s);
        EXPECT_EQ(i.staged, 0);
        EXPECT_EQ(i.assigned, i.num_blocks); /* H1: registered as soon as appended */
        EXPECT_EQ(i.tail_tokens, 1);
        if (t == 9) EXPECT_TRUE(o & KVBM_DECODE_MAX_LENGTH);
    }
    EXPECT_EQ(completed, 3); /* totals 8, 12 and 16 complete blocks 1, 2 and 3 */
    EXPECT_EQ(sinfo(s).total_tokens, 16);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(narrative_speculative_partial_acceptance)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_sched_seq *s = prefilled_seq(6, 20, m, NULL);
    uint64_t before = kvbm_manager_available_blocks(m);
    ASSERT_OK(kvbm_sched_seq_schedule_speculative(s, 8, m, NULL));
    size_t alloc = kvbm_sched_seq_state(s).blocks_allocated;
    EXPECT_EQ(alloc, 2); /* 7 + 8 = 15 tokens -> 4 blocks, 2 held */
    kvbm_decode_outcome o;
    ASSERT_OK(kvbm_sched_seq_apply_speculative(s, (const kvbm_token[]){ 1, 2, 3 }, 3, m, &o, NULL));
    EXPECT_EQ(o, KVBM_DECODE_BLOCK_COMPLETED);
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.total_tokens, 10);
    EXPECT_EQ(i.assigned, 2);
    EXPECT_EQ(i.unassigned, 1); /* rejected drafts' blocks released LIFO */
    EXPECT_EQ(kvbm_manager_available_blocks(m), before - 1);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(narrative_preemption_revert_release_evict_reuse)
{
    kvbm_manager *m = create_test_manager(6);
    kvbm_sched_seq *a = prefilled_seq(12, 8, m, NULL); /* 3 assigned + 1 unassigned */
    ASSERT_TRUE(a != NULL);
    ASSERT_OK(kvbm_sched_seq_schedule_decode(a, m, NULL));
    kvbm_sched_seq *b = mksched(16, 4, NULL);
    kvbm_seq_error e;
    /* b needs 4 blocks, only 2 free: AllocationFailed -> preempt a */
    EXPECT_STATUS(kvbm_sched_seq_schedule_prefill(b, 16, m, &e), KVBM_EEXHAUSTED);
    EXPECT_EQ(e.needed, 4);
    ASSERT_OK(kvbm_sched_seq_revert(a, NULL)); /* the batch was cancelled */
    ASSERT_OK(kvbm_sched_seq_release(a, NULL));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 6);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 3); /* registered blocks stay cached */
    ASSERT_OK(kvbm_sched_seq_schedule_prefill(b, 16, m, NULL));
    ASSERT_OK(kvbm_sched_seq_apply_prefill(b, &T1000, m, NULL));
    /* b shares a's first three blocks' tokens: nothing matched (no match_prefix call), so
     * its allocation evicted one cached block of a, the prefix root first */
    EXPECT_EQ(matchable(m, 12), 3); /* b registered its own copies of the same hashes */
    kvbm_sched_seq *c = mksched(12, 4, NULL);
    size_t hit = 0;
    ASSERT_OK(kvbm_sched_seq_match_prefix(c, m, &hit, NULL));
    EXPECT_EQ(hit, 3); /* reuse: active blocks are shared */
    kvbm_sched_seq_destroy(a);
    kvbm_sched_seq_destroy(b);
    kvbm_sched_seq_destroy(c);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 6);
    tm_manager_destroy(m);
}

KVBM_TEST(narrative_resume_with_reacquire)
{
    kvbm_manager *m = create_test_manager(20);
    ev_log log = { 0 };
    kvbm_sched_seq *s = prefilled_seq(8, 10, m, &log);
    for (kvbm_token t = 1; t <= 4; t++) {
        ASSERT_OK(kvbm_sched_seq_schedule_decode(s, m, NULL));
        ASSERT_OK(kvbm_sched_seq_apply_decode(s, t, m, NULL, NULL));
    }
    EXPECT_EQ(sinfo(s).num_blocks, 3);
    ASSERT_OK(kvbm_sched_seq_release(s, NULL));
    kvbm_sched_seq_info i = sinfo(s);
    EXPECT_EQ(i.assigned + i.unassigned, 0);
    EXPECT_EQ(i.kv_position, 12); /* H5: positions kept */
    bool ok = false;
    ASSERT_OK(kvbm_sched_seq_reacquire(s, m, &ok, NULL));
    EXPECT_TRUE(ok);
    EXPECT_EQ(log.ev[log.n - 1].kind, KVBM_SEQ_EV_REACQUIRED);
    EXPECT_EQ(log.ev[log.n - 1].u.reacquired.prefix_matched, 3);
    i = sinfo(s);
    EXPECT_EQ(i.assigned, 3);
    EXPECT_EQ(i.unassigned, 0);
    EXPECT_EQ(i.tail_tokens, 1);
    ASSERT_OK(kvbm_sched_seq_schedule_decode(s, m, NULL));
    EXPECT_EQ(kvbm_sched_seq_state(s).blocks_allocated, 1); /* the generation block */
    ASSERT_OK(kvbm_sched_seq_apply_decode(s, 5, m, NULL, NULL));
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}

KVBM_TEST(narrative_multi_tier_planning)
{
    kvbm_block_seq *s = mkseq(6, 0);
    kvbm_ext_asg *g1 = NULL, *g2 = NULL;
    ASSERT_OK(kvbm_ext_asg_create(0, &g1));
    ASSERT_OK(kvbm_ext_asg_create(2, &g2));
    ASSERT_OK(kvbm_ext_asg_extend_block_ids(g1, IDS(10, 11), NULL));
    ASSERT_OK(kvbm_ext_asg_assign_pending(g1, s, 0, 6, NULL, NULL));
    ASSERT_OK(kvbm_ext_asg_extend_block_ids(g2, IDS(22, 23, 24, 25), NULL));
    ASSERT_OK(kvbm_ext_asg_assign_pending(g2, s, 0, 6, NULL, NULL));
    /* onboard host blocks 2..6 to the GPU: queue destinations, plan, copy, validate, commit */
    ASSERT_OK(kvbm_ext_asg_extend_block_ids(g1, IDS(10, 11, 12, 13, 14, 15), NULL));
    kvbm_zip_entry plan[8];
    size_t n = 0;
    ASSERT_OK(kvbm_zip_assigned_pending(g2, g1, plan, 8, &n));
    ASSERT_EQ(n, 4);
    for (size_t i = 0; i < 4; i++) {
        EXPECT_EQ(plan[i].position, 2 + i);
        EXPECT_EQ(plan[i].first, 22 + i);
        EXPECT_EQ(plan[i].second, 12 + i);
    }
    kvbm_range r;
    ASSERT_OK(kvbm_ext_asg_stage_pending(g1, s, 0, 6, &r, NULL));
    EXPECT_EQ(r.end - r.start, 4); /* transfer in flight: staged, not committed */
    EXPECT_EQ(kvbm_ext_asg_assigned_count(g1), 2);
    r = kvbm_ext_asg_commit_staged(g1); /* transfer completed */
    EXPECT_EQ(r.start, 2);
    EXPECT_EQ(r.end, 6);
    ASSERT_OK(kvbm_zip_assigned(g1, g2, plan, 8, &n));
    EXPECT_EQ(n, 4);
    /* offload is the same primitive the other way round */
    kvbm_ext_asg *g3 = NULL;
    ASSERT_OK(kvbm_ext_asg_create(0, &g3));
    ASSERT_OK(kvbm_ext_asg_extend_block_ids(g3, IDS(30, 31), NULL));
    ASSERT_OK(kvbm_zip_assigned_pending(g1, g3, plan, 8, &n));
    ASSERT_EQ(n, 2);
    EXPECT_EQ(plan[1].first, 11);
    EXPECT_EQ(plan[1].second, 31);
    kvbm_ext_asg_destroy(g1);
    kvbm_ext_asg_destroy(g2);
    kvbm_ext_asg_destroy(g3);
    kvbm_block_seq_destroy(s);
}

/* ---- §4.3 low-level variant and §4.5 E1-E5 --------------------------------------------- */

KVBM_TEST(narrative_low_level_request_loop_and_split_phases)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_token *t = iota_tokens(0, 8);
    kvbm_request_seq *r = NULL;
    ASSERT_OK(kvbm_request_seq_create(t, 8, 9, 4, NULL, &r));
    free(t);
    size_t c = 0;
    ASSERT_OK(kvbm_request_seq_match_and_add_prefix(r, m, &c, NULL));
    ASSERT_OK(kvbm_request_seq_allocate_blocks(r, kvbm_request_seq_num_blocks(r) - c + 1, m, NULL));
    ASSERT_OK(kvbm_request_seq_complete_and_register_pending(r, m, NULL, NULL));
    EXPECT_EQ(kvbm_request_seq_assigned_blocks(r), 2);
    EXPECT_EQ(kvbm_request_seq_unassigned_blocks(r), 1);
    kvbm_token next = 100;
    while (!kvbm_request_seq_is_complete(r)) {
        bool done = false;
        ASSERT_OK(kvbm_request_seq_append_token(r, next++, &done, NULL, NULL));
        if (done) {
            size_t staged = 0;
            ASSERT_OK(kvbm_request_seq_stage_pending(r, &staged, NULL)); /* KV not yet written */
            EXPECT_EQ(staged, 1);
            EXPECT_EQ(matchable(m, 8), 2); /* staged blocks are invisible */
            ASSERT_OK(kvbm_request_seq_register_staged(r, m, NULL, NULL)); /* after the GPU wrote */
            ASSERT_OK(kvbm_request_seq_allocate_blocks(r, 1, m, NULL));
        }
    }
    EXPECT_EQ(kvbm_request_seq_assigned_blocks(r), 4);
    EXPECT_EQ(kvbm_request_seq_total_tokens(r), 17);
    kvbm_block *out[8];
    size_t n = 0;
    ASSERT_OK(kvbm_request_seq_detach_registered_blocks(r, out, 8, &n)); /* policy hand-off */
    EXPECT_EQ(n, 4);
    EXPECT_EQ(kvbm_request_seq_assigned_blocks(r), 4);
    tm_release_blocks(out, n);
    kvbm_request_seq_destroy(r);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    tm_manager_destroy(m);
}

KVBM_TEST(narrative_e1_e2_e3_e4_e5)
{
    kvbm_manager *m = create_test_manager(20);
    /* E1: 8 tokens, low-level flow: 3 blocks held, 17 available, 20 after release */
    kvbm_token *t = iota_tokens(0, 12);
    kvbm_request_seq *r = NULL;
    ASSERT_OK(kvbm_request_seq_create(t, 8, 4, 4, NULL, &r));
    ASSERT_OK(kvbm_request_seq_allocate_blocks(r, 3, m, NULL));
    ASSERT_OK(kvbm_request_seq_complete_and_register_pending(r, m, NULL, NULL));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 17);
    EXPECT_OK(kvbm_request_seq_release(r));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    /* E3: reacquire with spare capacity brings everything back from the cache */
    bool ok = false;
    ASSERT_OK(kvbm_request_seq_reacquire(r, m, &ok, NULL));
    EXPECT_TRUE(ok);
    EXPECT_EQ(kvbm_request_seq_prefix_matched_blocks(r), kvbm_request_seq_num_blocks(r));
    kvbm_request_seq_destroy(r);
    /* E2: a request over 12 tokens sharing the cached prefix */
    kvbm_request_seq *r2 = NULL;
    ASSERT_OK(kvbm_request_seq_create(t, 12, 4, 4, NULL, &r2));
    size_t c = 0;
    ASSERT_OK(kvbm_request_seq_match_and_add_prefix(r2, m, &c, NULL));
    EXPECT_EQ(c, 2);
    EXPECT_EQ(kvbm_request_seq_new_tokens_for_prefill(r2), 4);
    kvbm_request_seq_destroy(r2);
    free(t);
    /* E5: a revert after any schedule restores available_blocks exactly */
    kvbm_sched_seq *s = prefilled_seq(6, 8, m, NULL);
    uint64_t a0 = kvbm_manager_available_blocks(m);
    ASSERT_OK(kvbm_sched_seq_schedule_decode(s, m, NULL));
    ASSERT_OK(kvbm_sched_seq_revert(s, NULL));
    EXPECT_EQ(kvbm_manager_available_blocks(m), a0);
    ASSERT_OK(kvbm_sched_seq_schedule_speculative(s, 7, m, NULL));
    ASSERT_OK(kvbm_sched_seq_revert(s, NULL));
    EXPECT_EQ(kvbm_manager_available_blocks(m), a0);
    /* E4: reacquire when every block is taken by someone else */
    ASSERT_OK(kvbm_sched_seq_release(s, NULL));
    kvbm_mutable *mb[20];
    ASSERT_OK(kvbm_manager_allocate(m, 20, mb, NULL, NULL));
    ASSERT_OK(kvbm_sched_seq_reacquire(s, m, &ok, NULL));
    EXPECT_FALSE(ok);
    EXPECT_EQ(sinfo(s).assigned + sinfo(s).unassigned, 0);
    tm_release_mutables(mb, 20);
    kvbm_sched_seq_destroy(s);
    tm_manager_destroy(m);
}
