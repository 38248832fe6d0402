/* tests/registry/test_registry_death_hook_concurrent.c - the eviction epilogue's
 * one-section death of a handle whose only extra is a death hook (registry.c, "the
 * one-section death with a death hook"): the entry leaves the table in the death's own
 * shard-lock section, yet a registrar of the same hash does not notify observers (Create)
 * before the dying thread has flushed what the hook deferred (Remove) - binding decision
 * 6 - and a user destructor later in the same chunk may register that hash without
 * deadlocking on the dying thread's own claim.
 *
 * A test observer plays the events manager: on_registered puts a death hook in the new
 * handle and logs 'C'; the hook sets kvbm__deferred like the events module; the deferred
 * flush logs 'R' (and can be held at a gate to keep the Remove "in flight"). */
#include <pthread.h>
#include <sched.h>

#include "harness.h"
#include "kvbm/registry.h"
#include "registry/registry_int.h"

#define TIER 7u

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char            ev_log[16];
static int             ev_n;

static void log_event(char c)
{
    pthread_mutex_lock(&log_mu);
    if (ev_n < (int)sizeof ev_log - 1) ev_log[ev_n++] = c;
    pthread_mutex_unlock(&log_mu);
}

/* The flush gate: closed -> the flushing thread waits in its deferred function. */
static _Atomic int gate_open = 1, in_flush = 0, hook_calls = 0;

static void test_flush(void)
{
    kvbm__deferred = NULL;
    atomic_store(&in_flush, 1);
    while (!atomic_load(&gate_open)) sched_yield();
    log_event('R');
    atomic_store(&in_flush, 0);
}

static void hook_fn(struct kvbm__death_hook *d, kvbm_plh h)
{
    (void)d;
    (void)h;
    atomic_fetch_add(&hook_calls, 1);
    kvbm__deferred = test_flush; /* queue the Remove for kvbm__defer_run */
}

static struct kvbm__death_hook hook = { hook_fn };

static kvbm_status on_reg(void *ctx, kvbm_handle *h)
{
    (void)ctx;
    (void)kvbm__handle_set_death_new(h, &hook);
    log_event('C');
    return KVBM_OK;
}

static kvbm_registry *open_registry(void)
{
    kvbm_registry *r = NULL;
    kvbm_registry_observer obs = { on_reg, NULL, "test-events" };
    uint32_t id;
    if (kvbm_registry_create(NULL, &r) != KVBM_OK) return NULL;
    if (kvbm_registry_add_observer(r, &obs, &id) != KVBM_OK) return NULL;
    ev_n = 0;
    memset(ev_log, 0, sizeof ev_log);
    atomic_store(&hook_calls, 0);
    return r;
}

/* Register @h (Create) and mark it present in TIER, as the store does for a block. */
static kvbm_handle *reg_present(kvbm_registry *r, kvbm_plh h)
{
    kvbm_handle *x = NULL;
    if (kvbm_registry_register(r, h, &x) != KVBM_OK) return NULL;
    kvbm__handle_mark_present(x, TIER);
    return x;
}

typedef struct evict_arg {
    kvbm_registry *r;
    kvbm_handle   *hs[2];
    size_t         n;
} evict_arg;

static void evict(evict_arg *a)
{
    uint64_t h64[2];
    for (size_t k = 0; k < a->n; k++) h64[k] = kvbm_plh_hash64(kvbm_handle_seq_hash(a->hs[k]));
    kvbm__handle_mark_absent_release_many_h64(a->r, a->hs, h64, a->n, TIER);
}

static void *evict_thread(void *p)
{
    evict((evict_arg *)p);
    return NULL;
}

typedef struct reg_arg {
    kvbm_registry *r;
    kvbm_plh       h;
    kvbm_handle   *out;
    _Atomic int    done;
    bool           transfer; /* kvbm_registry_transfer (no observer call) */
} reg_arg;

static void *reg_thread(void *p)
{
    reg_arg *a = p;
    kvbm_status st = a->transfer ? kvbm_registry_transfer(a->r, a->h, &a->out)
                                 : kvbm_registry_register(a->r, a->h, &a->out);
    if (a->transfer && st == KVBM_OK) log_event('T');
    if (st != KVBM_OK) a->out = NULL;
    atomic_store(&a->done, 1);
    return NULL;
}

/* Wait (bounded; for progress, never deciding by time) until @flag is set, or - @flag
 * NULL - until the registry's wait counter exceeds @waits or @done is set. */
static bool wait_for(_Atomic int *flag, kvbm_registry *r, uint64_t waits, _Atomic int *done)
{
    for (long i = 0; i < 20000000L; i++) {
        if (flag != NULL ? atomic_load(flag) != 0
                         : kvbm__registry_dying_waits(r) > waits || atomic_load(done) != 0)
            return true;
        sched_yield();
    }
    return false;
}

/* One eviction whose Remove is held at the flush gate while another thread registers
 * (or, @transfer, transfers) the same hash: the registrar must wait for the flush.
 * @after: the log expected once both are done. */
static void held_remove_race(bool transfer, const char *after)
{
    kvbm_registry *r = open_registry();
    ASSERT_TRUE(r != NULL);
    kvbm_plh h = kvbm_plh_root(0x5eed);
    evict_arg ea = { r, { reg_present(r, h), NULL }, 1 };
    ASSERT_TRUE(ea.hs[0] != NULL);
    EXPECT_EQ(kvbm_registry_registered_count(r), 1u);

    atomic_store(&gate_open, 0);
    pthread_t dt, rt;
    ASSERT_EQ(pthread_create(&dt, NULL, evict_thread, &ea), 0);
    ASSERT_TRUE(wait_for(&in_flush, r, 0, NULL)); /* the dying thread holds its Remove */
    /* the one-section death: the entry is already gone while the Remove is in flight
     * (the general path keeps a dying entry until after the flush) */
    EXPECT_EQ(kvbm_registry_registered_count(r), 0u);
    EXPECT_FALSE(kvbm_registry_is_registered(r, h));
    EXPECT_EQ(atomic_load(&hook_calls), 1);

    uint64_t w0 = kvbm__registry_dying_waits(r);
    reg_arg ra = { r, h, NULL, 0, transfer };
    ASSERT_EQ(pthread_create(&rt, NULL, reg_thread, &ra), 0);
    /* the registrar finds the claim and waits (without the claim it would return) */
    EXPECT_TRUE(wait_for(NULL, r, w0, &ra.done));
    EXPECT_EQ(atomic_load(&ra.done), 0);
    EXPECT_GT(kvbm__registry_dying_waits(r), w0);
    pthread_mutex_lock(&log_mu);
    EXPECT_STR_EQ(ev_log, "C"); /* no second Create while the Remove is held */
    pthread_mutex_unlock(&log_mu);

    atomic_store(&gate_open, 1);
    pthread_join(dt, NULL);
    pthread_join(rt, NULL);
    ASSERT_TRUE(ra.out != NULL);
    EXPECT_STR_EQ(ev_log, after);
    EXPECT_TRUE(kvbm_registry_is_registered(r, h));
    kvbm_handle_release(ra.out);
    kvbm_registry_release(r);
}

KVBM_TEST(create_waits_for_the_remove_of_a_one_section_death)
{
    held_remove_race(false, "CRC"); /* Create, Remove, Create */
}

/* A transfer announces nothing itself, but its handle may be announced later (an explicit
 * kvbm_events_manager_on_registered): it waits too, as it waits for a dying entry. */
KVBM_TEST(transfer_waits_for_the_remove_of_a_one_section_death)
{
    held_remove_race(true, "CRT");
}

/* A destructor later in the chunk registers the hash that died in one section earlier in
 * the same chunk: the thread flushes its claims before running it (no self-deadlock), and
 * the new Create follows the Remove. */
static kvbm_registry *dtor_reg;
static kvbm_plh       dtor_hash;
static kvbm_handle   *dtor_out;

static void dtor_registers(void *value)
{
    (void)value;
    if (kvbm_registry_register(dtor_reg, dtor_hash, &dtor_out) != KVBM_OK) dtor_out = NULL;
}

KVBM_TEST(destructor_in_the_same_chunk_may_register_a_claimed_hash)
{
    kvbm_registry *r = open_registry();
    ASSERT_TRUE(r != NULL);
    kvbm_attach_type type;
    ASSERT_OK(kvbm_attach_type_register("test.registers", dtor_registers, &type));
    dtor_reg = r;
    dtor_hash = kvbm_plh_root(0xa11);
    dtor_out = NULL;
    evict_arg ea = { r, { reg_present(r, dtor_hash), reg_present(r, kvbm_plh_root(0xb22)) }, 2 };
    ASSERT_TRUE(ea.hs[0] != NULL && ea.hs[1] != NULL);
    ASSERT_OK(kvbm_handle_attach_unique(ea.hs[1], type, NULL));
    EXPECT_STR_EQ(ev_log, "CC");
    evict(&ea);
    ASSERT_TRUE(dtor_out != NULL);
    /* A's Remove flushed before the destructor's Create of A; B's Remove after it */
    EXPECT_STR_EQ(ev_log, "CCRCR");
    EXPECT_EQ(atomic_load(&hook_calls), 2);
    EXPECT_EQ(kvbm_registry_registered_count(r), 1u);
    kvbm_handle_release(dtor_out);
    EXPECT_EQ(kvbm_registry_registered_count(r), 0u);
    kvbm_registry_release(r);
}

/* The hook table: the first 15 distinct hooks of a registry get ids (a handle names its
 * hook by id), later ones are refused (the observer falls back to an attachment); each
 * handle's death calls exactly its own hook, through the general and the one-section
 * path. */
#define NHOOK 18
static struct kvbm__death_hook hooks[NHOOK];
static int hook_hits[NHOOK];
static struct kvbm__death_hook *cur_hook;
static bool cur_ok;

static void multi_hook_fn(struct kvbm__death_hook *d, kvbm_plh h)
{
    (void)h;
    hook_hits[d - hooks]++;
}

static kvbm_status on_reg_cur(void *ctx, kvbm_handle *h)
{
    (void)ctx;
    cur_ok = kvbm__handle_set_death_new(h, cur_hook);
    return KVBM_OK;
}

KVBM_TEST(hook_table_names_15_hooks_and_refuses_more)
{
    kvbm_registry *r;
    ASSERT_OK(kvbm_registry_create(NULL, &r));
    kvbm_registry_observer obs = { on_reg_cur, NULL, "hooks" };
    uint32_t id;
    ASSERT_OK(kvbm_registry_add_observer(r, &obs, &id));
    kvbm_handle *hs[NHOOK];
    int ok = 0;
    for (int i = 0; i < NHOOK; i++) {
        hooks[i].fn = multi_hook_fn;
        hook_hits[i] = 0;
        cur_hook = &hooks[i];
        hs[i] = reg_present(r, kvbm_plh_root(0x7000 + (uint64_t)i));
        ASSERT_TRUE(hs[i] != NULL);
        EXPECT_EQ(cur_ok, i < 15);
        ok += cur_ok;
        EXPECT_TRUE(kvbm__handle_death(hs[i]) == (cur_ok ? &hooks[i] : NULL));
    }
    EXPECT_EQ(ok, 15);
    /* a known hook gets its id again (a second handle of hook 3) */
    cur_hook = &hooks[3];
    kvbm_handle *again = reg_present(r, kvbm_plh_root(0x7100));
    ASSERT_TRUE(again != NULL);
    EXPECT_TRUE(cur_ok);
    EXPECT_TRUE(kvbm__handle_death(again) == &hooks[3]);
    /* half die one by one (general path), the rest in one eviction batch */
    for (int i = 0; i < NHOOK / 2; i++) kvbm_handle_release(hs[i]);
    uint64_t h64[NHOOK];
    for (int i = NHOOK / 2; i < NHOOK; i++)
        h64[i] = kvbm_plh_hash64(kvbm_handle_seq_hash(hs[i]));
    kvbm__handle_mark_absent_release_many_h64(r, hs + NHOOK / 2, h64 + NHOOK / 2,
                                              NHOOK - NHOOK / 2, TIER);
    for (int i = 0; i < NHOOK; i++) EXPECT_EQ(hook_hits[i], i < 15 ? 1 : 0);
    kvbm_handle_release(again);
    EXPECT_EQ(hook_hits[3], 2);
    EXPECT_EQ(kvbm_registry_registered_count(r), 0u);
    kvbm_registry_release(r);
}
