/* tests/support/seq_helpers.h - helpers for the sequence-layer tests (spec 30 §5.1).
 *
 * mkseq(complete, partial): a BlockSequence of complete*4 + partial tokens 0, 1, 2, ...
 * (block size 4, no salt) - assignments/tests.rs' create_test_sequence.
 * IDS(...): a uint64_t array literal and its length, for the id-list arguments.
 * seq_hash(seq, i): the PLH of block i.
 */
#ifndef KVBM_TEST_SEQ_HELPERS_H
#define KVBM_TEST_SEQ_HELPERS_H

#include "harness.h"
#include "kvbm/schedulable.h"
#include "support/manager_helpers.h"

#define IDS(...) ((const uint64_t[]){ __VA_ARGS__ }), (sizeof((const uint64_t[]){ __VA_ARGS__ }) / sizeof(uint64_t))

#define IDS_ARR1(a) ((const uint64_t[]){ a })
#define IDS_ARR2(a, b) ((const uint64_t[]){ a, b })
#define IDS_ARR3(a, b, c) ((const uint64_t[]){ a, b, c })

kvbm_block_seq *mkseq(size_t complete, size_t partial);
kvbm_block_seq *mkseq_bs(size_t ntokens, uint32_t bs);
kvbm_plh        seq_hash(const kvbm_block_seq *s, size_t i);
/* iota tokens [start, start + n) into a fresh heap array (free()) */
kvbm_token     *iota_tokens(uint32_t start, size_t n);
/* Register blocks for tokens [0, n) (bs 4, salt 0) and drop them (-> inactive). */
void            cache_prefix(kvbm_manager *m, size_t ntokens);

/* ---- ExternalBlockAssignments ---- */
#define RANGE_IS(r, a, b) do { EXPECT_EQ((r).start, (a)); EXPECT_EQ((r).end, (b)); } while (0)
kvbm_ext_asg *mkasg(size_t offset);
/* extend_block_ids (a failure is a test failure) */
void          ext(kvbm_ext_asg *a, const uint64_t *ids, size_t n);
/* assign_pending over all complete blocks of @s */
kvbm_range    assign_all(kvbm_ext_asg *a, const kvbm_block_seq *s);
/* a tracker at @offset with @ids extended and assigned over @s */
kvbm_ext_asg *assigned_at(size_t offset, const uint64_t *ids, size_t n, const kvbm_block_seq *s);
/* assigned / staged entry i is (id, hash of block pos of s) */
bool          asg_is(const kvbm_ext_asg *a, size_t i, uint64_t id, const kvbm_block_seq *s, size_t pos);
bool          stg_is(const kvbm_ext_asg *a, size_t i, uint64_t id, const kvbm_block_seq *s, size_t pos);

/* ---- a delegate recording events (CollectingDelegate) ---- */
typedef struct ev_log {
    kvbm_seq_event ev[64];
    size_t         n;
    int            released;
} ev_log;
void ev_log_on_event(void *user, const kvbm_seq_event *ev);
void ev_log_release(void *user);
kvbm_seq_delegate ev_log_delegate(ev_log *log);

/* A schedulable sequence of tokens 0..n-1 with the given budget (bs 4); NULL on failure. */
kvbm_sched_seq *mksched(size_t n, size_t max_output, ev_log *log);
/* prefilled_seq(n, max, mgr): new and, if n > 0, schedule_prefill(n) + apply_prefill(1000). */
kvbm_sched_seq *prefilled_seq(size_t n, size_t max_output, kvbm_manager *m, ev_log *log);
kvbm_sched_seq_info sinfo(const kvbm_sched_seq *s);
/* schedule_decode + apply_decode(t) (a failure is a test failure); returns the outcome */
kvbm_decode_outcome decode(kvbm_sched_seq *s, kvbm_token t, kvbm_manager *m);
#define ST(s) (kvbm_sched_seq_state(s).kind)
extern const kvbm_token T1000; /* prefilled_seq's first generated token */

#endif /* KVBM_TEST_SEQ_HELPERS_H */
