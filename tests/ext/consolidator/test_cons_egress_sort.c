/* tests/ext/consolidator/test_cons_egress_sort.c - the egress run sort (spec 20 §4.3.4;
 * §5.5 "egress sort"). Events are produced through the kvbm bridge with PLHs at chosen
 * positions (kvbm_plh_new), so only the order is under test. */
#include <stdlib.h>
#include "cons_test.h"

static kvbm_plh at(uint64_t pos, uint64_t tag)
{
    kvbm_plh p = {0, 0};
    if (kvbm_plh_new(0x1000 + tag, pos > 0, 0x77, pos, &p) != KVBM_OK) abort();
    return p;
}

static kvbm_status st(kvbm_cons_tracker *t, uint64_t pos, uint64_t tag)
{
    uint32_t tok = (uint32_t)tag;
    return kvbm_cons_tracker_handle_kvbm_store(t, at(pos, tag), &tok, 1, 1, NULL);
}

static kvbm_status rm(kvbm_cons_tracker *t, uint64_t pos, uint64_t tag)
{
    return kvbm_cons_tracker_handle_kvbm_remove(t, at(pos, tag));
}

/* Drain, sort and compare with "S<pos>.<tag> R<pos>.<tag> C" tokens. */
static bool sorted_is(kvbm_cons_tracker *t, const char *want)
{
    kvbm_cons_events *ev = NULL;
    char got[512] = "";
    size_t n = cons_drain(t, &ev);
    bool ok = n != (size_t)-1 && kvbm_cons_events_sort_egress(ev) == KVBM_OK;
    for (size_t i = 0; ok && i < n; i++) {
        const kvbm_cons_event *e = kvbm_cons_events_get(ev, i);
        char one[48];
        if (e->kind == KVBM_CONS_CLEAR_ALL) snprintf(one, sizeof one, "%sC", i ? " " : "");
        else
            snprintf(one, sizeof one, "%s%c%llu.%llu", i ? " " : "", e->kind == KVBM_CONS_STORE ? 'S' : 'R',
                     (unsigned long long)kvbm_plh_position(e->plh), (unsigned long long)(e->plh.lo - 0x1000));
        strncat(got, one, sizeof got - strlen(got) - 1);
    }
    kvbm_cons_events_destroy(ev);
    if (!ok || strcmp(got, want) != 0) printf("    got  \"%s\"\n    want \"%s\"\n", got, want);
    return ok && strcmp(got, want) == 0;
}

KVBM_TEST(remove_then_store_preserves_lifecycle_order)
{
    kvbm_cons_tracker *t = NULL;
    ASSERT_OK(kvbm_cons_tracker_create(NULL, &t));
    ASSERT_OK(st(t, 0, 1));
    ASSERT_OK(rm(t, 0, 1));
    ASSERT_OK(st(t, 0, 1));
    EXPECT_TRUE(sorted_is(t, "S0.1 R0.1 S0.1"));
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(store_run_sorts_ascending_by_position)
{
    kvbm_cons_tracker *t = NULL;
    ASSERT_OK(kvbm_cons_tracker_create(NULL, &t));
    uint64_t pos[] = {2, 0, 3, 1, 0, 2};
    for (size_t i = 0; i < 6; i++) ASSERT_OK(st(t, pos[i], i));
    EXPECT_TRUE(sorted_is(t, "S0.1 S0.4 S1.3 S2.0 S2.5 S3.2")); /* stable among equals */
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(remove_run_sorts_descending_by_position)
{
    kvbm_cons_tracker *t = NULL;
    ASSERT_OK(kvbm_cons_tracker_create(NULL, &t));
    uint64_t pos[] = {1, 3, 0, 2, 3};
    for (size_t i = 0; i < 5; i++) ASSERT_OK(st(t, pos[i], i));
    kvbm_cons_events *ev = NULL;
    ASSERT_EQ(cons_drain(t, &ev), 5);
    kvbm_cons_events_destroy(ev);
    for (size_t i = 0; i < 5; i++) ASSERT_OK(rm(t, pos[i], i));
    EXPECT_TRUE(sorted_is(t, "R3.1 R3.4 R2.3 R1.0 R0.2"));
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(clearall_is_a_barrier)
{
    kvbm_cons_tracker *t = NULL;
    ASSERT_OK(kvbm_cons_tracker_create(NULL, &t));
    ASSERT_OK(st(t, 2, 1));
    ASSERT_OK(st(t, 1, 2));
    ASSERT_OK(kvbm_cons_tracker_clear_all(t));
    ASSERT_OK(st(t, 0, 3));
    ASSERT_OK(kvbm_cons_tracker_clear_all(t));
    ASSERT_OK(kvbm_cons_tracker_clear_all(t));
    ASSERT_OK(st(t, 5, 4));
    ASSERT_OK(st(t, 4, 5));
    EXPECT_TRUE(sorted_is(t, "S1.2 S2.1 C S0.3 C C S4.5 S5.4"));
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(type_runs_alternate)
{
    kvbm_cons_tracker *t = NULL;
    ASSERT_OK(kvbm_cons_tracker_create(NULL, &t));
    ASSERT_OK(st(t, 1, 1));
    ASSERT_OK(st(t, 0, 2));
    ASSERT_OK(rm(t, 0, 2));
    ASSERT_OK(rm(t, 1, 1));
    ASSERT_OK(st(t, 3, 3));
    ASSERT_OK(st(t, 2, 4));
    ASSERT_OK(rm(t, 2, 4));
    EXPECT_TRUE(sorted_is(t, "S0.2 S1.1 R1.1 R0.2 S2.4 S3.3 R2.4"));
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(long_store_run_sorts_stably)
{
    /* beyond the insertion-sort cutoff: the merge path, checked against the definition */
    kvbm_cons_tracker *t = NULL;
    ASSERT_OK(kvbm_cons_tracker_create(NULL, &t));
    uint64_t seed = test_seed();
    printf("    seed %llu\n", (unsigned long long)seed);
    uint64_t x = seed | 1;
    for (uint64_t i = 0; i < 1000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        ASSERT_OK(st(t, x % 37, i));
    }
    kvbm_cons_events *ev = NULL;
    ASSERT_EQ(cons_drain(t, &ev), 1000);
    ASSERT_OK(kvbm_cons_events_sort_egress(ev));
    for (size_t i = 1; i < 1000; i++) {
        const kvbm_cons_event *a = kvbm_cons_events_get(ev, i - 1), *b = kvbm_cons_events_get(ev, i);
        uint64_t pa = kvbm_plh_position(a->plh), pb = kvbm_plh_position(b->plh);
        ASSERT_TRUE(pa < pb || (pa == pb && a->plh.lo < b->plh.lo));
        ASSERT_EQ(b->tokens[0], (uint32_t)(b->plh.lo - 0x1000)); /* payload moved along */
    }
    kvbm_cons_events_destroy(ev);
    kvbm_cons_tracker_destroy(t);
}
