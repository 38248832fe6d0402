/* tests/ext/consolidator/test_cons_alloc.c - allocation failures (the kvbm__alloc_fail_set
 * hook) at every allocation site of a scripted run: an operation that reports KVBM_ENOMEM
 * must leave the tracker unchanged, so retrying it gives exactly the stream and payload of
 * a run without failures. */
#include "cons_vllm_test.h"
#include "internal.h"
#include "kvbm/registry.h"

#define V KVBM_CONS_SOURCE_VLLM
#define T KVBM_CONS_SOURCE_TRTLLM

/* Step @i of the script (false: no such step). */
static bool step(kvbm_cons_tracker *t, int i, kvbm_status *st)
{
    uint32_t tok[8];
    for (uint32_t k = 0; k < 8; k++) tok[k] = 100 + (uint32_t)i * 8 + k;
    uint64_t parent = 1;
    switch (i) {
    case 0: *st = cons_store4(t, V, 1, 0, 1, "lora-a"); return true;
    case 1: *st = cons_store4(t, V, 2, 1, 5, "lora-a"); return true;
    case 2: *st = cons_store4(t, T, 7, 0, 1, "lora-a"); return true;
    case 3: *st = kvbm_cons_tracker_handle_kvbm_store(t, cons_chain_plh(50, 1, NULL), tok, 8, 8, "lora-b"); return true;
    case 4: *st = kvbm_cons_tracker_handle_store(t, V, 3, &parent, tok, 8, 8, NULL); return true;
    case 5: *st = kvbm_cons_tracker_handle_remove(t, V, 1); return true;
    case 6: *st = kvbm_cons_tracker_handle_remove(t, T, 7); return true;
    case 7: *st = kvbm_cons_tracker_clear_all(t); return true;
    case 8: *st = cons_store4(t, T, 9, 0, 60, NULL); return true;
    default: return false;
    }
}

/* Run the script; with @fail_at > 0 the fail_at-th allocation fails once and the failing
 * step is retried. Returns the hex of the single egress payload (caller frees) or NULL. */
static char *run(long fail_at, bool *fired, bool *egress_enomem)
{
    *egress_enomem = false;
    kvbm_registry *r = NULL;
    kvbm_cons_tracker *t = NULL;
    kvbm_cons_egress *eg = NULL;
    char *hex = NULL;
    if (kvbm_registry_create(NULL, &r) != KVBM_OK) return NULL;
    kvbm_cons_tracker_config cfg = {.registry = r};
    if (kvbm_cons_tracker_create(&cfg, &t) != KVBM_OK || kvbm_cons_egress_create(&eg) != KVBM_OK) goto out;
    kvbm__alloc_fail_set(fail_at);
    kvbm_status st;
    for (int i = 0; step(t, i, &st); i++) {
        if (st == KVBM_ENOMEM) {
            if (kvbm_cons_tracker_check(t) != KVBM_OK) goto out;
            step(t, i, &st); /* the failure fired: the retry allocates normally */
        }
        if (st != KVBM_OK) goto out;
    }
    const uint8_t *p;
    size_t len = 0;
    st = kvbm_cons_egress_drain(eg, t, 1.0, &p, &len, NULL);
    if (st == KVBM_ENOMEM) { /* the drained events are gone: a failed run */
        *egress_enomem = true;
        goto out;
    }
    if (st != KVBM_OK || len == 0 || (hex = malloc(2 * len + 1)) == NULL) goto out;
    cons_hex(p, len, hex);
out:
    *fired = kvbm__alloc_fail_pending() == 0;
    kvbm__alloc_fail_set(0);
    kvbm_cons_egress_destroy(eg);
    kvbm_cons_tracker_destroy(t);
    kvbm_registry_release(r);
    return hex;
}

KVBM_TEST(enomem_leaves_the_tracker_unchanged)
{
    bool fired = false;
    bool eg_fail = false;
    char *want = run(0, &fired, &eg_fail);
    ASSERT_TRUE(want != NULL);
    int sites = 0, egress_failures = 0;
    for (long n = 1; n < 10000; n++) {
        char *got = run(n, &fired, &eg_fail);
        if (!fired) { /* past the last allocation: the whole script ran clean */
            EXPECT_TRUE(got != NULL && strcmp(got, want) == 0);
            free(got);
            break;
        }
        sites++;
        if (got == NULL && eg_fail) egress_failures++; /* only the egress may lose its batch */
        else if (got == NULL) kvbm_test_fail(__FILE__, __LINE__, "allocation %ld: the run failed", n);
        else if (strcmp(got, want) != 0) kvbm_test_fail(__FILE__, __LINE__, "allocation %ld: stream differs", n);
        free(got);
    }
    printf("    %d allocation sites, %d in the egress\n", sites, egress_failures);
    EXPECT_GT(sites, 10);
    EXPECT_LT(egress_failures, sites);
    free(want);
}
