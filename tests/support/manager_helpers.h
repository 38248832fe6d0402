/* tests/support/manager_helpers.h - the spec's test conventions (10-core §7) for manager tests.
 *
 * Managers:   create_test_manager(n) = registry with a Medium TinyLFU tracker, block size 4,
 *             LRU backend, duplication Allow; the _with_* variants change one setting;
 *             tm_manager_create(&opts) builds anything else.
 * Checking:   every manager built here is tracked; CK(expr) evaluates a kvbm call and then
 *             runs kvbm_manager_check_invariants() on every tracked manager, failing the
 *             current test (at the caller's file:line) on a violation. Tests wrap every
 *             state-changing call in CK()/CKV(). Concurrent phases switch the automatic
 *             check off (tm_auto_check(false)) and check explicitly at quiescent points.
 * Hashes:     tokens_for_id(id) = [id, id+1, id+2, id+3]; hash_for_tokens(t, n) = PLH of one
 *             root block of all n tokens (salt 0); tm_chain_hashes() = the chained PLHs of a
 *             token sequence (BlockSequenceBuilder, via kvbm_tokens_hash_blocks).
 * Blocks:     tm_complete_tokens() is the single place that turns tokens into a CompleteBlock
 *             (kvbm_mutable_complete with a kvbm_token_block).
 * Threads:    the helpers are thread-safe (the tracked list has its own mutex).
 */
#ifndef KVBM_TEST_MANAGER_HELPERS_H
#define KVBM_TEST_MANAGER_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "kvbm/manager.h"
#include "kvbm/metrics.h"
#include "kvbm/registry.h"
#include "kvbm/tracker.h"
#include "support/metered_tracker.h"

#define TEST_SALT                42u
#define DEFAULT_TEST_BLOCK_SIZE  4u
#define DEFAULT_TEST_BLOCK_COUNT 10u

typedef enum tm_tracker_kind {
    TM_TRACKER_NONE = 0,   /* plain registry, no frequency tracking */
    TM_TRACKER_MEDIUM,     /* TinyLFU, Medium preset (the test default) */
    TM_TRACKER_SMALL,      /* TinyLFU, Small preset */
    TM_TRACKER_CUSTOM      /* opts.tracker (caller-owned reference; the registry takes one) */
} tm_tracker_kind;

typedef struct tm_opts {
    uint64_t              block_count;
    uint32_t              block_size;
    kvbm_backend          backend;
    kvbm_lineage_eviction eviction;
    uint8_t               thresholds[3];
    kvbm_dup_policy       policy;
    bool                  default_reset;
    tm_tracker_kind       tracker_kind;
    kvbm_tracker         *tracker;   /* TM_TRACKER_CUSTOM */
    kvbm_registry        *registry;  /* non-NULL: use this (shared) registry, ignore tracker */
    kvbm_tier             tier;
    const char           *label;
} tm_opts;

/* create_test_manager defaults: Medium TinyLFU, bs 4, LRU, Allow, reset-on-release false. */
#define TM_OPTS_INIT(n)                                                                    \
    { (n), DEFAULT_TEST_BLOCK_SIZE, KVBM_BACKEND_LRU, KVBM_LINEAGE_TICK, { 3, 8, 15 },       \
      KVBM_DUP_ALLOW, false, TM_TRACKER_MEDIUM, NULL, NULL, KVBM_G1, NULL }

/* Build a manager (and its registry) from @o; on failure records a test failure and
 * returns NULL. The manager is tracked for invariant checks until tm_manager_destroy(). */
kvbm_manager *tm_manager_create(const tm_opts *o);
/* Check invariants one last time, untrack, destroy (NULL: no-op). */
void tm_manager_destroy(kvbm_manager *m);

/* The manager's store id (one place to adapt if the accessor is renamed). */
uint64_t tm_manager_id(kvbm_manager *m);

kvbm_manager *create_test_manager(uint64_t n);
kvbm_manager *create_test_manager_with_backend(uint64_t n, kvbm_backend backend);
kvbm_manager *create_test_manager_with_block_size(uint64_t n, uint32_t block_size);
kvbm_manager *create_test_manager_with_default_reset_on_release(uint64_t n, bool flag);
kvbm_manager *create_test_manager_with_policy(uint64_t n, kvbm_dup_policy policy);
/* create_test_manager_metered(n) (LRU) and build_manager_with_metered_multi_lru(n):
 * the registry's tracker is a metered_tracker; *@meter receives a reference the test
 * releases (metered_tracker_release) after tm_manager_destroy(). */
kvbm_manager *create_test_manager_metered(uint64_t n, kvbm_backend backend, metered_tracker **meter);

/* ---- invariant checks ------------------------------------------------------------- */
/* Run kvbm_manager_check_invariants on every tracked manager; a violation fails the test
 * at @file:@line. Returns true if all passed. */
bool tm_check_all(const char *file, int line);
/* Same for one manager (tracked or not). */
bool tm_check(kvbm_manager *m, const char *file, int line);
/* Enable/disable the check performed by CK()/CKV() (default on; process-global;
 * tm_manager_create() switches it back on). */
void tm_auto_check(bool on);
kvbm_status tm__after(kvbm_status st, const char *file, int line);
void tm__after_void(const char *file, int line);

/* CK(call): evaluate a kvbm call returning kvbm_status, then check invariants; yields the status. */
#define CK(expr)  tm__after((expr), __FILE__, __LINE__)
/* CKV(stmt): a statement without a status (e.g. kvbm_weak_release), then check. */
#define CKV(stmt) do { stmt; tm__after_void(__FILE__, __LINE__); } while (0)
#define CHECK_INVARIANTS(m) EXPECT_TRUE(tm_check((m), __FILE__, __LINE__))

/* ---- metrics ---------------------------------------------------------------------- */
int64_t tm_metric(kvbm_manager *m, kvbm_metric_id id);
#define MET(m, name) tm_metric((m), KVBM_METRIC_##name)

/* ---- tokens and hashes ------------------------------------------------------------ */
void     tokens_for_id(uint32_t id, uint32_t out[4]);
/* iota tokens start..start+n */
void     tm_iota(uint32_t start, size_t n, uint32_t *out);
kvbm_plh hash_for_tokens(const uint32_t *tokens, size_t n);
kvbm_plh hash_for_tokens_salt(const uint32_t *tokens, size_t n, uint64_t salt);
/* hash_for_tokens(tokens_for_id(id)) */
kvbm_plh tm_hash_for_id(uint32_t id);
typedef struct tm_id_hash { uint32_t id; kvbm_plh hash; } tm_id_hash;
tm_id_hash block_id_and_hash(uint32_t id, const uint32_t *tokens, size_t n);
/* Chained PLHs of @n_tokens tokens cut in blocks of @bs (n_tokens % bs must be 0):
 * out[i] = PLH of block i. Returns the number of blocks. */
size_t   tm_chain_hashes(const uint32_t *tokens, size_t n_tokens, uint32_t bs, uint64_t salt,
                         kvbm_plh *out);
/* PLH of an arbitrary position (kvbm_plh_new wrapper; fails the test on error). */
kvbm_plh tm_plh(uint64_t current, bool has_parent, uint64_t parent, uint64_t position);
/* A distinct PLH per id, for tests that need many unrelated hashes (registry, store): id 0
 * is a root, id > 0 a non-root PLH at position id % 1000. Fails the test on error. */
kvbm_plh tm_hash_n(uint64_t id);
/* kvbm_registry_create() with frequency tracker @t (NULL: none); aborts on failure. */
kvbm_registry *tm_registry_create(kvbm_tracker *t);

/* ---- blocks ------------------------------------------------------------------------ */
/* complete(token_block): a root kvbm_token_block of the @n tokens (salt) passed to
 * kvbm_mutable_complete(). Token blocks exist only for power-of-two sizes; for other
 * counts (e.g. the 3-token mismatch cases) this stages the same PLH with block size n,
 * which is what complete() does. Consumes @mb only on KVBM_OK. */
kvbm_status tm_complete_tokens(kvbm_mutable *mb, const uint32_t *tokens, size_t n, uint64_t salt,
                               kvbm_complete **out, uint32_t *expected, uint32_t *actual);
/* allocate 1 + stage(h, block_size) + register; NULL (and a test failure) on error. */
kvbm_block *tm_register_hash(kvbm_manager *m, kvbm_plh h);
/* The same without a test failure: the status (a full pool, a lost race), with nothing
 * left allocated on error; and as NULL-on-error. */
kvbm_status tm_stage_register(kvbm_manager *m, kvbm_plh h, kvbm_block **out);
kvbm_block *tm_try_register_hash(kvbm_manager *m, kvbm_plh h);
/* allocate 1 + complete(tokens base..base+block_size-1, salt 0) + register */
kvbm_block *register_one(kvbm_manager *m, uint32_t base);
/* Register @n hashes, one allocation each, in one register_blocks call; out[i] for h[i]. */
bool tm_register_hashes(kvbm_manager *m, const kvbm_plh *h, size_t n, kvbm_block **out);
/* Register hash and drop it again (-> inactive with default flags). */
void tm_register_and_drop(kvbm_manager *m, kvbm_plh h);

/* Release (and NULL) arrays of handles; each release is followed by an invariant check. */
void tm_release_blocks(kvbm_block **b, size_t n);
void tm_release_mutables(kvbm_mutable **b, size_t n);
void tm_release_completes(kvbm_complete **b, size_t n);

/* Registered-ness of @h in the manager's registry. */
bool tm_is_registered(kvbm_manager *m, kvbm_plh h);
/* Presence of @h for the manager's tier. */
bool tm_has_presence(kvbm_manager *m, kvbm_plh h);

/* splitmix64 for seeded tests */
static inline uint64_t tm_rand(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}
static inline uint64_t tm_rand_below(uint64_t *s, uint64_t n) { return n ? tm_rand(s) % n : 0; }

#endif /* KVBM_TEST_MANAGER_HELPERS_H */
