/* src/events/manager.c - the events manager (spec 20 §3.2): a registry observer that
 * broadcasts Create(h) and gives the registration a release handle whose destruction
 * broadcasts Remove(h).
 *
 * The release handle usually lives in the handle's death slot (registry_int.h, struct
 * kvbm__death_hook: one pointer and a flag set by the creating observer, called by the
 * dying thread where attachment destructors run): no attach, no attachment walk at death.
 * When the slot cannot be used - another manager on the same registry took it, an
 * earlier observer attached a value of our type, or an explicit
 * kvbm_events_manager_on_registered - the release handle is the channel pointer attached
 * as a unique value of the channel's own attachment type, whose destructor receives the
 * handle's PLH: still no allocation per registration. Each channel has its own type so
 * that two managers watching one registry do not replace each other's release handles;
 * types are process-wide and never freed, so a channel returns its type to a pool when
 * it is freed (no release handle of that type is alive then - each holds a sender count
 * on the channel, in the slot or attached).
 */
#include <stdio.h>

#include "events/events_int.h"
#include "registry/registry_int.h"

#define MAX_REGS 8

struct kvbm_events_manager {
    _Atomic uint32_t   refs;
    kvbm__chan        *chan;
    kvbm_events_policy policy;
    pthread_mutex_t    mu; /* regs (never held while calling into a registry) */
    struct { kvbm_registry *r; uint32_t id; } regs[MAX_REGS];
    unsigned           nregs;
};

/* ---- release-type pool ----------------------------------------------------------------- */

static pthread_mutex_t   pool_mu = PTHREAD_MUTEX_INITIALIZER;
static kvbm_attach_type  pool[64];
static unsigned          pool_n;

/* ---- per-thread batching ----------------------------------------------------------------
 * Events are appended to a thread-local buffer and broadcast together (one publish under
 * the ring's writer lock, one wake check, one sender-count update per batch) when the registry runs the
 * deferred work (kvbm__defer_run: at the end of a registration call, and after dying
 * handles' destructors ran but before their entries are removed) or when the buffer fills
 * or switches channel. That keeps binding decision 6: a Remove reaches the ring before
 * its entry is removed, hence before any later Create of the hash is even buffered; a
 * Create reaches the ring before the registration call returns its handle, hence before
 * the registration can die. The buffer holds a channel reference while non-empty. */
#define TLS_EVENTS 64 /* <= 64: the kinds are one word (tls_buf.removes) */
_Static_assert(TLS_EVENTS <= 64, "kinds in one word");

struct tls_buf {
    kvbm__chan *chan;
    uint32_t    n;
    uint64_t    removes;             /* bit i set: event i is a Remove (else a Create) */
    kvbm_plh    hash[TLS_EVENTS];
};
static _Thread_local struct tls_buf tb;

/* The bits set in @v, inline: the build targets x86-64 without popcnt, where
 * __builtin_popcountll is a library call (~21 instructions, once per flush). */
static inline size_t bit_count(uint64_t v)
{
    v = v - (v >> 1 & UINT64_C(0x5555555555555555));
    v = (v & UINT64_C(0x3333333333333333)) + (v >> 2 & UINT64_C(0x3333333333333333));
    v = (v + (v >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
    return (size_t)(v * UINT64_C(0x0101010101010101) >> 56);
}

static void tls_flush(void)
{
    kvbm__deferred = NULL;
    kvbm__chan *c = tb.chan;
    if (c == NULL) return;
    /* each Create brings a release handle (+1 sender), each Remove is one's end (-1) */
    size_t removes = bit_count(tb.removes);
    int64_t d = (int64_t)tb.n - 2 * (int64_t)removes;
    kvbm__chan_send_bits(c, tb.hash, tb.removes, tb.n, removes);
    tb.chan = NULL;
    tb.n = 0;
    tb.removes = 0;
    kvbm__chan_senders_add(c, d);
    /* references: +1 per new release handle, -1 per destroyed one, -1 for the buffer's own
     * (held until here): one atomic for the net change, none for a single Create */
    int64_t r = d - 1;
    if (r > 0) kvbm__chan_ref_n(c, (size_t)r);
    else if (r < 0) kvbm__chan_unref_n(c, (size_t)-r);
}

/* A Create stores its hash only; a Remove also sets its kind bit. */
static inline void tls_append(struct tls_buf *b, kvbm_event_kind kind, uint64_t hi, uint64_t lo)
{
    uint32_t n = b->n;
    b->hash[n].hi = hi;
    b->hash[n].lo = lo;
    if (kind != KVBM_EVENT_CREATE) b->removes |= (uint64_t)1 << n;
    b->n = n + 1;
}

/* Flush what is buffered, start a buffer for @c (a channel switch or a full buffer) and
 * append. Out of line, and called in tail position (hence the status, for the observer),
 * with the arguments in the registers the callers receive the hash in, so that the common
 * append is a leaf without callee-saved registers. */
static __attribute__((noinline)) kvbm_status tls_switch_push(kvbm__chan *c, uint64_t hi, uint64_t lo,
                                                           kvbm_event_kind kind)
{
    tls_flush();
    kvbm__chan_ref(c);
    tb.chan = c;
    kvbm__deferred = tls_flush;
    tls_append(&tb, kind, hi, lo);
    return KVBM_OK;
}

static inline kvbm_status tls_push(kvbm__chan *c, uint64_t hi, uint64_t lo, kvbm_event_kind kind)
{
    /* Two scalar stores. Without this barrier gcc's SLP vectorizer packs the two words
     * into an xmm register through a stack slot: a 16-byte load of two 8-byte stores just
     * made, which store forwarding cannot serve - 78 % of release_hook's samples sat on
     * it (perf, PERFORMANCE §39), though it counted fewer instructions. */
    __asm__("" : "+r"(hi), "+r"(lo));
    struct tls_buf *b = &tb; /* one thread-pointer computation */
    if (KVBM_UNLIKELY(b->chan != c || b->n == TLS_EVENTS)) return tls_switch_push(c, hi, lo, kind);
    tls_append(b, kind, hi, lo);
    return KVBM_OK;
}

static void release_dtor(void *value, kvbm_plh h)
{
    kvbm__chan *c = value;
    if (c == NULL) return; /* test values (see kvbm__events_manager_attach_type) */
    (void)tls_push(c, h.hi, h.lo, KVBM_EVENT_REMOVE);
}

/* the same release handle in the handle's death slot (the usual case) */
static void release_hook(struct kvbm__death_hook *d, kvbm_plh h)
{
    kvbm__chan *c = (kvbm__chan *)(void *)((char *)d - offsetof(kvbm__chan, death));
    (void)tls_push(c, h.hi, h.lo, KVBM_EVENT_REMOVE);
}

static kvbm_status type_get(kvbm_attach_type *out)
{
    pthread_mutex_lock(&pool_mu);
    bool got = pool_n > 0;
    if (got) *out = pool[--pool_n];
    pthread_mutex_unlock(&pool_mu);
    return got ? KVBM_OK : kvbm__attach_type_register_plh("kvbm.events.release", release_dtor, out);
}

void kvbm__events_type_put(kvbm_attach_type t);
void kvbm__events_type_put(kvbm_attach_type t)
{
    pthread_mutex_lock(&pool_mu);
    if (pool_n < sizeof pool / sizeof pool[0]) pool[pool_n++] = t; /* else: leaked id */
    pthread_mutex_unlock(&pool_mu);
}

/* ---- manager ----------------------------------------------------------------------------- */

kvbm_status kvbm_events_manager_create(const kvbm_events_config *cfg, kvbm_events_manager **out)
{
    if (out == NULL) {
        kvbm__set_error("kvbm_events_manager_create: out is NULL");
        return KVBM_EINVAL;
    }
    *out = NULL;
    kvbm_events_config def = KVBM_EVENTS_CONFIG_INIT;
    if (cfg == NULL) cfg = &def;
    if (cfg->struct_size != sizeof(kvbm_events_config)) {
        kvbm__set_error("kvbm_events_config: struct_size %zu, expected %zu (use "
                        "KVBM_EVENTS_CONFIG_INIT)", cfg->struct_size, sizeof *cfg);
        return KVBM_EINVAL;
    }
    if ((unsigned)cfg->policy.kind > KVBM_EVENTS_POLICY_CUSTOM) {
        kvbm__set_error("kvbm_events_config: unknown policy kind %d", (int)cfg->policy.kind);
        return KVBM_ECONFIG;
    }
    uint64_t cap = cfg->channel_capacity ? cfg->channel_capacity : KVBM__EVENTS_DEFAULT_CAPACITY;
    if (cap > (1u << 20)) {
        kvbm__set_error("kvbm_events_config: channel_capacity %u is above the maximum %u",
                        (unsigned)cfg->channel_capacity, 1u << 20);
        return KVBM_ECONFIG;
    }
    cap = kvbm__next_pow2_u64(cap);
    kvbm_events_manager *m = kvbm__calloc(1, sizeof *m);
    if (m == NULL) goto nomem;
    if (kvbm__chan_create((size_t)cap, &m->chan) != KVBM_OK) {
        kvbm__free(m);
        goto nomem;
    }
    kvbm_status st = type_get(&m->chan->att_type);
    if (st == KVBM_OK && !kvbm__attach_type_lookup(m->chan->att_type, &m->chan->att_dtor)) st = KVBM_EINVAL;
    if (st != KVBM_OK) {
        kvbm__chan_senders_add(m->chan, -1);
        kvbm__chan_unref(m->chan);
        kvbm__free(m);
        kvbm__set_error("kvbm_events_manager_create: cannot register the release attachment "
                        "type: %s", kvbm_status_name(st));
        return st;
    }
    m->chan->death.fn = release_hook;
    m->policy = cfg->policy;
    atomic_init(&m->refs, 1);
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return KVBM_OK;
nomem:
    kvbm__set_error("kvbm_events_manager_create: out of memory");
    return KVBM_ENOMEM;
}

kvbm_events_manager *kvbm_events_manager_acquire(kvbm_events_manager *m)
{
    if (m != NULL) atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void kvbm_events_manager_release(kvbm_events_manager *m)
{
    if (m == NULL || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
    for (unsigned i = 0; i < m->nregs; i++) {
        (void)kvbm_registry_remove_observer(m->regs[i].r, m->regs[i].id);
        kvbm_registry_release(m->regs[i].r);
    }
    kvbm__chan_senders_add(m->chan, -1);
    kvbm__chan_unref(m->chan);
    pthread_mutex_destroy(&m->mu);
    kvbm__free(m);
}

static __attribute__((noinline)) kvbm_status on_registered(kvbm_events_manager *m, kvbm_handle *h,
                                                         bool fresh);

static __attribute__((noinline, cold)) kvbm_status filtered(kvbm__chan *c)
{
    atomic_fetch_add_explicit(&c->filtered, 1, memory_order_relaxed);
    return KVBM_OK; /* no Create now, no Remove later */
}

/* The registry observer: @h was just created by this thread (shard lock held). The usual
 * case - no attachment yet, the death slot free - is a leaf: Create into the thread's
 * buffer, our release handle into the handle's death slot. */
static kvbm_status observe(void *ctx, kvbm_handle *h)
{
    kvbm_events_manager *m = ctx;
    kvbm__chan *c = m->chan;
    if (KVBM_UNLIKELY(h->flags != 0 || m->policy.kind != KVBM_EVENTS_POLICY_ALL ||
                      !kvbm__handle_set_death_new(h, &c->death)))
        return on_registered(m, h, true); /* a policy to ask, an earlier observer's extras,
                                             or the registry's hook table full */
    return tls_push(c, h->hash.hi, h->hash.lo, KVBM_EVENT_CREATE); /* last: the rare buffer switch is a tail call */
}

kvbm_status kvbm_events_manager_attach(kvbm_events_manager *m, kvbm_registry *r)
{
    if (m == NULL || r == NULL) {
        kvbm__set_error("kvbm_events_manager_attach: %s is NULL", m == NULL ? "manager" : "registry");
        return KVBM_EINVAL;
    }
    pthread_mutex_lock(&m->mu);
    kvbm_status st = KVBM_OK;
    for (unsigned i = 0; i < m->nregs; i++)
        if (m->regs[i].r == r) st = KVBM_EBUSY;
    if (st == KVBM_OK && m->nregs == MAX_REGS) st = KVBM_EFULL;
    if (st == KVBM_OK) {
        kvbm_registry_observer o = { observe, m, "events" };
        uint32_t id;
        st = kvbm_registry_add_observer(r, &o, &id); /* takes no shard lock */
        if (st == KVBM_OK) {
            m->regs[m->nregs].r = kvbm_registry_clone(r);
            m->regs[m->nregs].id = id;
            m->nregs++;
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (st == KVBM_EBUSY) kvbm__set_error("kvbm_events_manager_attach: already attached to this registry");
    if (st == KVBM_EFULL && m->nregs == MAX_REGS)
        kvbm__set_error("kvbm_events_manager_attach: already attached to %d registries (the maximum)", MAX_REGS);
    return st;
}

kvbm_status kvbm_events_manager_detach(kvbm_events_manager *m, kvbm_registry *r)
{
    if (m == NULL || r == NULL) {
        kvbm__set_error("kvbm_events_manager_detach: %s is NULL", m == NULL ? "manager" : "registry");
        return KVBM_EINVAL;
    }
    uint32_t id = 0;
    pthread_mutex_lock(&m->mu);
    for (unsigned i = 0; i < m->nregs; i++) {
        if (m->regs[i].r != r) continue;
        id = m->regs[i].id;
        m->regs[i] = m->regs[--m->nregs];
        break;
    }
    pthread_mutex_unlock(&m->mu);
    if (id == 0) {
        kvbm__set_error("kvbm_events_manager_detach: not attached to this registry");
        return KVBM_ENOENT;
    }
    kvbm_status st = kvbm_registry_remove_observer(r, id);
    kvbm_registry_release(r);
    return st;
}

void kvbm_events_manager_close(kvbm_events_manager *m)
{
    if (m != NULL) kvbm__chan_close(m->chan);
}

static __attribute__((noinline)) kvbm_status on_registered(kvbm_events_manager *m, kvbm_handle *h,
                                                         bool fresh)
{
    kvbm__chan *c = m->chan;
    kvbm_plh hash = h->hash;
    if (m->policy.kind != KVBM_EVENTS_POLICY_ALL && !kvbm_events_policy_should_emit(&m->policy, hash))
        return filtered(c);
    (void)tls_push(c, hash.hi, hash.lo, KVBM_EVENT_CREATE); /* Create, and the release handle's sender unit */
    /* The release handle: in the handle's death slot when we are its creating observer,
     * the slot is free and no value of our type is attached (an earlier observer may have
     * attached one: the attachment path then decides, e.g. the attach failure of §3.2);
     * otherwise a unique attachment of the channel's own type. */
    if (KVBM_LIKELY(fresh) && !kvbm__handle_has_type_new(h, c->att_type) &&
        kvbm__handle_set_death_new(h, &c->death))
        return KVBM_OK;
    bool had = false;
    kvbm_status st;
    if (fresh) {
        st = kvbm__handle_attach_unique_new(h, c->att_type, &c->att_dtor, c);
    } else if (kvbm__handle_death(h) == &c->death) {
        had = true; /* our release handle is in the death slot: "replaced" by itself */
        st = KVBM_OK;
    } else {
        st = kvbm__handle_attach_unique_ex(h, c->att_type, c, &had);
    }
    /* A second call on the same handle replaces its release handle, whose destruction
     * sends Remove; ours are all the same pointer, so the registry kept the value and
     * ran no destructor: run it here. */
    if (KVBM_UNLIKELY(had)) release_dtor(c, hash);
    if (KVBM_UNLIKELY(st != KVBM_OK)) {
        /* the rejected release handle is destroyed on the way out: Remove follows Create */
        atomic_fetch_add_explicit(&c->attach_failures, 1, memory_order_relaxed);
        release_dtor(c, hash);
        kvbm__set_error("events: cannot attach the release handle for this registration "
                        "(%s); Remove sent right after Create", kvbm_status_name(st));
    }
    return st;
}

kvbm_status kvbm_events_manager_on_registered(kvbm_events_manager *m, kvbm_handle *h)
{
    if (m == NULL || h == NULL) {
        kvbm__set_error("kvbm_events_manager_on_registered: %s is NULL", m == NULL ? "manager" : "handle");
        return KVBM_EINVAL;
    }
    kvbm_status st = on_registered(m, h, false);
    kvbm__defer_run();
    return st;
}

kvbm_status kvbm_events_manager_get_stats(kvbm_events_manager *m, kvbm_events_stats *out)
{
    if (m == NULL || out == NULL) {
        kvbm__set_error("kvbm_events_manager_get_stats: %s is NULL", m == NULL ? "manager" : "out");
        return KVBM_EINVAL;
    }
    kvbm__chan *c = m->chan;
    out->created = atomic_load_explicit(&c->sent[0], memory_order_relaxed);
    out->removed = atomic_load_explicit(&c->sent[1], memory_order_relaxed);
    out->filtered = atomic_load_explicit(&c->filtered, memory_order_relaxed);
    out->attach_failures = atomic_load_explicit(&c->attach_failures, memory_order_relaxed);
    out->lost = atomic_load_explicit(&c->lost, memory_order_relaxed);
    out->dropped_closed = atomic_load_explicit(&c->dropped_closed, memory_order_relaxed);
    out->subscribers = atomic_load_explicit(&c->subscribers, memory_order_relaxed);
    return KVBM_OK;
}

size_t kvbm_events_manager_capacity(kvbm_events_manager *m)
{
    return m != NULL ? (size_t)m->chan->mask + 1 : 0;
}

kvbm_status kvbm_events_subscribe(kvbm_events_manager *m, kvbm_events_sub **out)
{
    if (m == NULL || out == NULL) {
        kvbm__set_error("kvbm_events_subscribe: %s is NULL", m == NULL ? "manager" : "out");
        return KVBM_EINVAL;
    }
    return kvbm__chan_subscribe(m->chan, out);
}

kvbm_attach_type kvbm__events_manager_attach_type(kvbm_events_manager *m)
{
    return m->chan->att_type;
}
