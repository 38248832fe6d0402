/* tests/backends/test_model.c - seeded random-operation loops, one per backend, against an
 * independent simple model (plain arrays, O(n) scans) of the expected contents and
 * eviction order. Replay a failure with KVBM_TEST_SEED=<printed seed>.
 *
 * The universe of hashes is a random prefix forest (so Lineage sees shared prefixes,
 * branches, out-of-order inserts, ghosts and the PLH mode boundary at position 256).
 *
 * Model of the expected order:
 *   LRU / HashMap : smallest insert stamp first.
 *   MultiLRU      : lowest level (from the tracker count at insert), then smallest stamp.
 *   Lineage       : the model keeps, per universe node, state (absent/ghost/real) and
 *                   whether it is linked to its parent, following §3.4.2/§3.4.3 literally;
 *                   leaves are found by scanning for linked children. Tick: leaf with the
 *                   smallest insert stamp; Fifo: leaf that became a leaf earliest.
 */
#include "backends_test.h"

enum { U_MAX = 400, CAP = 64 };
enum { ST_ABSENT, ST_GHOST, ST_REAL };

typedef struct model {
    enum tb_kind kind;
    size_t       n;                 /* universe size */
    kvbm_plh     h[U_MAX];
    int          parent[U_MAX];     /* universe index or -1 */
    int          state[U_MAX];
    bool         linked[U_MAX];
    uint32_t     id[U_MAX];
    uint64_t     stamp[U_MAX];      /* insert order (= lineage tick) */
    uint64_t     leaf_since[U_MAX]; /* lineage fifo */
    int          level[U_MAX];      /* multi-lru */
    uint64_t     clock;
    bool         id_used[CAP];
    size_t       len;
    kvbm_tracker *tracker;          /* multi-lru only (borrowed) */
} model;

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}
static size_t rndn(size_t n) { return (size_t)(rnd() % n); }

static void build_universe(model *m)
{
    m->n = U_MAX;
    for (size_t i = 0; i < m->n; i++) {
        m->parent[i] = -1;
        uint64_t local = rnd();
        int r = (int)rndn(10);
        if (i == 0 || r == 0) {
            m->h[i] = kvbm_plh_root(local);
        } else if (r == 1) { /* a deep "root" whose parent is outside the universe */
            uint64_t pos = 250 + rndn(10);
            if (kvbm_plh_new(local, true, rnd(), pos, &m->h[i]) != KVBM_OK) abort();
        } else {
            size_t p = rndn(i);
            if (kvbm_plh_extend(&m->h[p], local, &m->h[i]) != KVBM_OK) abort();
            m->parent[i] = (int)p;
        }
    }
}

static int find_u(const model *m, kvbm_plh h)
{
    for (size_t i = 0; i < m->n; i++)
        if (kvbm_plh_eq(m->h[i], h)) return (int)i;
    return -1;
}

static bool is_lineage(const model *m) { return m->kind == TB_LINEAGE_TICK || m->kind == TB_LINEAGE_FIFO; }

static bool has_children(const model *m, int x)
{
    for (size_t u = 0; u < m->n; u++)
        if (m->state[u] != ST_ABSENT && m->linked[u] && m->parent[u] == x) return true;
    return false;
}

static void model_insert(model *m, int u, uint32_t id)
{
    m->state[u] = ST_REAL;
    m->id[u] = id;
    m->id_used[id] = true;
    m->stamp[u] = ++m->clock;
    m->len++;
    if (m->kind == TB_MULTI_LRU) {
        uint32_t f = kvbm_tracker_count(m->tracker, m->h[u]);
        m->level[u] = f < 2 ? 0 : f < 6 ? 1 : f < 15 ? 2 : 3;
    }
    if (!is_lineage(m)) return;
    if (kvbm_plh_position(m->h[u]) > 0 && !m->linked[u]) {
        int p = m->parent[u];
        if (p >= 0 && m->state[p] == ST_ABSENT) {
            m->state[p] = ST_GHOST;
            m->linked[p] = false;
        }
        m->linked[u] = true; /* (a parent outside the universe is a ghost we do not model) */
    }
    if (!has_children(m, u)) m->leaf_since[u] = ++m->clock;
}

static void model_remove(model *m, int u)
{
    m->state[u] = ST_GHOST;
    m->id_used[m->id[u]] = false;
    m->len--;
    if (!is_lineage(m)) {
        m->state[u] = ST_ABSENT;
        return;
    }
    int cur = u;
    for (;;) {
        if (has_children(m, cur)) break;
        int p = m->linked[cur] ? m->parent[cur] : -1;
        m->state[cur] = ST_ABSENT;
        m->linked[cur] = false;
        if (p < 0) break;
        if (has_children(m, p)) break;
        if (m->state[p] == ST_REAL) {
            m->leaf_since[p] = ++m->clock;
            break;
        }
        cur = p;
    }
}

static int model_victim(const model *m)
{
    int best = -1;
    for (size_t i = 0; i < m->n; i++) {
        int u = (int)i;
        if (m->state[u] != ST_REAL) continue;
        switch (m->kind) {
        case TB_HASHMAP:
        case TB_LRU:
            if (best < 0 || m->stamp[u] < m->stamp[best]) best = u;
            break;
        case TB_MULTI_LRU:
            if (best < 0 || m->level[u] < m->level[best] ||
                (m->level[u] == m->level[best] && m->stamp[u] < m->stamp[best]))
                best = u;
            break;
        case TB_LINEAGE_TICK:
            if (has_children(m, u)) break;
            if (best < 0 || m->stamp[u] < m->stamp[best]) best = u;
            break;
        case TB_LINEAGE_FIFO:
            if (has_children(m, u)) break;
            if (best < 0 || m->leaf_since[u] < m->leaf_since[best]) best = u;
            break;
        default:
            break;
        }
    }
    return best;
}

static size_t model_leaves(const model *m)
{
    size_t n = 0;
    for (size_t u = 0; u < m->n; u++)
        if (m->state[u] == ST_REAL && !has_children(m, (int)u)) n++;
    return n;
}

static void random_hashes(const model *m, kvbm_plh *q, size_t k)
{
    /* mostly a path towards the root of a random node (realistic prefix order), else random */
    if (rndn(2) == 0) {
        size_t depth = 0;
        int path[64];
        for (int u = (int)rndn(m->n); u >= 0 && depth < 64 && depth < k; u = m->parent[u]) path[depth++] = u;
        size_t j = 0;
        while (depth > 0 && j < k) q[j++] = m->h[path[--depth]];
        while (j < k) q[j++] = m->h[rndn(m->n)];
    } else {
        for (size_t j = 0; j < k; j++) q[j] = m->h[rndn(m->n)];
    }
}

/* Release the path from a random node towards its root, tail first, skipping cached
 * nodes, as one batch (insert_pairs where the backend has it, else one insert per pair):
 * the replay's release order, in which a Lineage insert finds its node as the ghost the
 * previous one created (or resurrected). Returns false after a test failure. */
static bool release_path(model *m, kvbm__inactive *b, int step)
{
    kvbm__pair run[16];
    int us[16];
    bool chosen[CAP] = { false };
    size_t nr = 0;
    for (int u = (int)rndn(m->n); u >= 0 && nr < 16 && m->len + nr < CAP; u = m->parent[u]) {
        if (m->state[u] == ST_REAL) continue;
        uint32_t id;
        do id = (uint32_t)rndn(CAP); while (m->id_used[id] || chosen[id]);
        chosen[id] = true;
        run[nr].hash = m->h[u];
        run[nr].block_id = id;
        us[nr++] = u;
    }
    size_t got = 0;
    if (b->ops->insert_pairs != NULL) got = b->ops->insert_pairs(b->ctx, run, nr);
    else
        for (size_t j = 0; j < nr; j++)
            got += b->ops->insert(b->ctx, run[j].hash, run[j].block_id) == KVBM_OK;
    if (got != nr) {
        kvbm_test_fail(__FILE__, __LINE__, "%s step %d: %zu of %zu inserted: %s", tb_name(m->kind), step,
                       got, nr, kvbm_last_error());
        return false;
    }
    for (size_t j = 0; j < nr; j++) model_insert(m, us[j], run[j].block_id);
    return true;
}

/* @paths: half of the inserts release a whole path (release_path) instead of one node. */
static void run_model(enum tb_kind kind, uint64_t seed, int steps, bool paths)
{
    static model m;
    memset(&m, 0, sizeof m);
    m.kind = kind;
    rng_state = seed * 2 + 1;
    build_universe(&m);
    kvbm__inactive b;
    kvbm_tracker *tracker = NULL;
    if (tb_create(kind, CAP, &b, &tracker) != KVBM_OK) {
        kvbm_test_fail(__FILE__, __LINE__, "create %s", tb_name(kind));
        return;
    }
    m.tracker = tracker;
    kvbm_plh q[16];
    kvbm__pair out[CAP];

    for (int step = 0; step < steps; step++) {
        unsigned op = (unsigned)rndn(100);
        if (op < 40 && paths && rndn(2) == 0) {
            if (!release_path(&m, &b, step)) break;
        } else if (op < 40) { /* insert */
            int u = (int)rndn(m.n);
            if (m.state[u] == ST_REAL || m.len >= CAP) continue;
            uint32_t id;
            do id = (uint32_t)rndn(CAP); while (m.id_used[id]);
            if (b.ops->insert(b.ctx, m.h[u], id) != KVBM_OK) {
                kvbm_test_fail(__FILE__, __LINE__, "%s step %d: insert failed: %s", tb_name(kind), step, kvbm_last_error());
                break;
            }
            model_insert(&m, u, id);
        } else if (op < 50) { /* touch the tracker (multi-lru levels) */
            if (tracker != NULL) kvbm_tracker_touch(tracker, m.h[rndn(m.n)]);
        } else if (op < 60) { /* find_match */
            int u = (int)rndn(m.n);
            uint32_t id = UINT32_MAX;
            bool hit = b.ops->find_match(b.ctx, m.h[u], true, &id);
            ASSERT_EQ(hit, m.state[u] == ST_REAL);
            if (hit) {
                ASSERT_EQ(id, m.id[u]);
                model_remove(&m, u);
            }
        } else if (op < 68 || op < 76) { /* find_matches / scan_matches */
            bool scan = op >= 68;
            size_t k = 1 + rndn(8);
            random_hashes(&m, q, k);
            size_t got = scan ? b.ops->scan_matches(b.ctx, q, k, false, out)
                              : b.ops->find_matches(b.ctx, q, k, false, out);
            size_t j = 0;
            for (size_t i = 0; i < k; i++) {
                int u = find_u(&m, q[i]);
                if (u < 0 || m.state[u] != ST_REAL) {
                    if (!scan) break;
                    continue; /* (also covers duplicates already consumed) */
                }
                ASSERT_LT(j, got);
                ASSERT_TRUE(kvbm_plh_eq(out[j].hash, q[i]));
                ASSERT_EQ(out[j].block_id, m.id[u]);
                model_remove(&m, u);
                j++;
            }
            ASSERT_EQ(got, j);
        } else if (op < 88) { /* allocate */
            size_t k = rndn(6);
            size_t got = b.ops->allocate(b.ctx, k, out);
            ASSERT_EQ(got, k < m.len ? k : m.len);
            for (size_t i = 0; i < got; i++) {
                int v = model_victim(&m);
                ASSERT_TRUE(v >= 0);
                if (!kvbm_plh_eq(out[i].hash, m.h[v]) || out[i].block_id != m.id[v]) {
                    kvbm_test_fail(__FILE__, __LINE__, "%s step %d: victim %zu is block %u, model expects %u",
                                   tb_name(kind), step, i, out[i].block_id, m.id[v]);
                    goto done;
                }
                model_remove(&m, v);
            }
        } else if (op < 94) { /* has */
            int u = (int)rndn(m.n);
            ASSERT_EQ(b.ops->has(b.ctx, m.h[u]), m.state[u] == ST_REAL);
        } else if (op < 99) { /* take, with the right or a wrong id */
            int u = (int)rndn(m.n);
            bool right = rndn(2) == 0;
            uint32_t id = m.state[u] == ST_REAL && right ? m.id[u] : (uint32_t)rndn(CAP);
            bool want = m.state[u] == ST_REAL && id == m.id[u];
            ASSERT_EQ(b.ops->take(b.ctx, m.h[u], id), want);
            if (want) model_remove(&m, u);
        } else { /* allocate_all */
            size_t got = b.ops->allocate_all(b.ctx, out);
            ASSERT_EQ(got, m.len);
            for (size_t i = 0; i < got; i++) {
                int v = model_victim(&m);
                ASSERT_TRUE(v >= 0);
                if (kind == TB_HASHMAP) v = find_u(&m, out[i].hash); /* order unspecified */
                ASSERT_TRUE(v >= 0 && m.state[v] == ST_REAL);
                ASSERT_TRUE(kvbm_plh_eq(out[i].hash, m.h[v]));
                ASSERT_EQ(out[i].block_id, m.id[v]);
                model_remove(&m, v);
            }
        }
        ASSERT_EQ(b.ops->len(b.ctx), m.len);
        if (step % 64 == 0 || KVBM_DEBUG >= 3) {
            if (!tb_check(&b)) {
                kvbm_test_fail(__FILE__, __LINE__, "%s step %d: check() failed", tb_name(kind), step);
                break;
            }
            kvbm__lineage_info st;
            if (kvbm__lineage_stats(&b, &st)) {
                ASSERT_EQ(st.real, m.len);
                ASSERT_EQ(st.leaves, model_leaves(&m));
            }
        }
    }
done:
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

static int steps_for_run(void) { return test_under_sanitizer() ? 3000 : 20000; }

#define MODEL_TEST(kind)                                                                  \
    KVBM_TEST(model_##kind)                                                               \
    {                                                                                     \
        uint64_t seed = test_seed();                                                      \
        printf("model_" #kind ": seed=%" PRIu64 " (KVBM_TEST_SEED to replay)\n", seed);   \
        for (uint64_t r = 0; r < 4; r++) run_model(kind, seed + r, steps_for_run(), false);\
    }                                                                                     \
    KVBM_TEST(model_paths_##kind)                                                         \
    {                                                                                     \
        uint64_t seed = test_seed();                                                      \
        printf("model_paths_" #kind ": seed=%" PRIu64 " (KVBM_TEST_SEED to replay)\n", seed); \
        for (uint64_t r = 0; r < 4; r++) run_model(kind, seed + r, steps_for_run(), true);\
    }

MODEL_TEST(TB_HASHMAP)
MODEL_TEST(TB_LRU)
MODEL_TEST(TB_MULTI_LRU)
MODEL_TEST(TB_LINEAGE_TICK)
MODEL_TEST(TB_LINEAGE_FIFO)

/* Fixed regression case: the worked example of §3.4.4 plus an out-of-order ghost chain,
 * replayed through the model machinery with a fixed seed for every backend. */
KVBM_TEST(model_fixed_seed_all_backends)
{
    for (enum tb_kind k = 0; k < TB_NKINDS; k++) run_model(k, 42, 2000, false);
}
