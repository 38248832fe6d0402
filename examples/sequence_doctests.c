/* examples/sequence_doctests.c - the three doctests of the reference's sequence module
 * (spec 30 §5.2) as one program against the public API: ExternalBlockAssignments basic
 * flow, its two-step staging, and the LogicalBlockAssignments pipeline on a manager.
 * Built and run by the test suite (examples/CMakeLists.txt). Exit status 0 on success. */
#include <stdio.h>

#include <kvbm/kvbm.h>

#define CHECK(call)                                                                       \
    do {                                                                                  \
        kvbm_status st_ = (call);                                                         \
        if (st_ != KVBM_OK) {                                                             \
            fprintf(stderr, "%s: %s (%s)\n", #call, kvbm_strerror(st_), kvbm_last_error()); \
            return 1;                                                                     \
        }                                                                                 \
    } while (0)
#define EXPECT(cond)                                                                      \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "expectation failed: %s\n", #cond);                           \
            return 1;                                                                     \
        }                                                                                 \
    } while (0)

static kvbm_token toks[12] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };

/* 12 tokens = 3 blocks; ids [10, 20, 30] -> assign_pending = 0..3; assigned 0 = (10, h0). */
static int external_basic_flow(kvbm_block_seq *seq, kvbm_ext_asg *a)
{
    const uint64_t ids[3] = { 10, 20, 30 };
    CHECK(kvbm_ext_asg_extend_block_ids(a, ids, 3, NULL));
    EXPECT(kvbm_ext_asg_unassigned_count(a) == 3);
    kvbm_range r;
    CHECK(kvbm_ext_asg_assign_pending(a, seq, 0, kvbm_block_seq_num_blocks(seq), &r, NULL));
    EXPECT(r.start == 0 && r.end == 3);
    uint64_t id;
    kvbm_plh h;
    EXPECT(kvbm_ext_asg_get_assigned(a, 0, &id, &h) && id == 10);
    EXPECT(kvbm_plh_eq(h, kvbm_token_block_plh(kvbm_block_seq_block(seq, 0))));
    return 0;
}

/* 8 tokens, ids [1, 2]: stage_pending = 0..2 (2 staged), commit_staged = 0..2 (2 assigned). */
static int external_two_step_staging(kvbm_block_seq *seq, kvbm_ext_asg *a)
{
    const uint64_t ids[2] = { 1, 2 };
    CHECK(kvbm_ext_asg_extend_block_ids(a, ids, 2, NULL));
    kvbm_range r;
    CHECK(kvbm_ext_asg_stage_pending(a, seq, 0, 2, &r, NULL));
    EXPECT(r.start == 0 && r.end == 2 && kvbm_ext_asg_staged_count(a) == 2);
    EXPECT(kvbm_ext_asg_assigned_count(a) == 0);
    r = kvbm_ext_asg_commit_staged(a);
    EXPECT(r.start == 0 && r.end == 2 && kvbm_ext_asg_assigned_count(a) == 2);
    EXPECT(kvbm_ext_asg_staged_count(a) == 0);
    return 0;
}

/* 10-block manager (bs 4, LRU, Small TinyLFU): allocate 3 -> extend_blocks -> stage ->
 * register; assigned i has the i-th allocated id and hash h_i. */
static int logical_full_pipeline(kvbm_manager *m, kvbm_block_seq *seq, kvbm_logical_asg *a)
{
    kvbm_mutable *mb[3];
    CHECK(kvbm_manager_allocate(m, 3, mb, NULL, NULL));
    uint32_t ids[3];
    for (int i = 0; i < 3; i++) ids[i] = kvbm_mutable_block_id(mb[i]);
    CHECK(kvbm_logical_asg_extend_blocks(a, mb, 3, NULL, NULL)); /* the tracker owns them now */
    EXPECT(kvbm_logical_asg_unassigned_count(a) == 3);
    size_t n = 0;
    CHECK(kvbm_logical_asg_stage(a, seq, 0, 3, &n, NULL, NULL));
    EXPECT(n == 3 && kvbm_logical_asg_staged_count(a) == 3);
    CHECK(kvbm_logical_asg_register(a, m, &n));
    EXPECT(n == 3 && kvbm_logical_asg_assigned_count(a) == 3);
    for (size_t i = 0; i < 3; i++) {
        uint32_t id;
        kvbm_block *b;
        EXPECT(kvbm_logical_asg_get_assigned(a, i, &id, &b) && id == ids[i]);
        EXPECT(kvbm_plh_eq(kvbm_block_seq_hash(b), kvbm_token_block_plh(kvbm_block_seq_block(seq, i))));
    }
    return 0;
}

int main(void)
{
    int rc = 1;
    kvbm_block_seq *s12 = NULL, *s8 = NULL;
    kvbm_ext_asg *a = NULL, *b = NULL;
    kvbm_logical_asg *la = NULL;
    kvbm_tracker *t = NULL;
    kvbm_registry *r = NULL;
    kvbm_manager *m = NULL;
    kvbm_registry_config rc_cfg = KVBM_REGISTRY_CONFIG_INIT;
    kvbm_manager_config mc = KVBM_MANAGER_CONFIG_INIT;
    if (kvbm_block_seq_create(toks, 12, 4, NULL, &s12) != KVBM_OK ||
        kvbm_block_seq_create(toks, 8, 4, NULL, &s8) != KVBM_OK || kvbm_ext_asg_create(0, &a) != KVBM_OK ||
        kvbm_ext_asg_create(0, &b) != KVBM_OK || kvbm_logical_asg_create(&la) != KVBM_OK ||
        kvbm_tinylfu_create_preset(KVBM_TRACKER_SMALL, &t) != KVBM_OK)
        goto out;
    rc_cfg.tracker = t;
    if (kvbm_registry_create(&rc_cfg, &r) != KVBM_OK) goto out;
    mc.registry = r;
    mc.block_count = 10;
    mc.block_size = 4;
    mc.backend = KVBM_BACKEND_LRU;
    if (kvbm_manager_create(&mc, &m) != KVBM_OK) goto out;
    rc = external_basic_flow(s12, a) || external_two_step_staging(s8, b) || logical_full_pipeline(m, s12, la);
out:
    if (rc) fprintf(stderr, "sequence doctests failed: %s\n", kvbm_last_error());
    else printf("sequence doctests: 3 passed\n");
    kvbm_logical_asg_destroy(la); /* releases the registered blocks into the cache */
    kvbm_ext_asg_destroy(a);
    kvbm_ext_asg_destroy(b);
    kvbm_block_seq_destroy(s12);
    kvbm_block_seq_destroy(s8);
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
    if (t) kvbm_tracker_release(t);
    return rc;
}
