/* src/ext/consolidator/daemon_int.h - internals of the consolidator daemon
 * (kvbm/consolidator.h).
 *
 * daemon.c          lifecycle, threads, stats
 * daemon_ingest.c   engine batches -> tracker (§4.3.1), per-input hash sets, kvbm stream
 * daemon_egress.c   tracker queue -> vLLM batch -> output PUB (§4.3.4)
 * daemon_router.c   the optional RouterEvent output
 * daemon_metrics.c  Prometheus source, stats line
 *
 * Locks (all unranked leaves of this module, never held while calling back into a user):
 *   c->ingest_mu  serialises the ingest threads' per-kind reference counts with their
 *                 tracker calls (taken once per batch); the tracker's own lock nests inside.
 *   c->egress_mu  the egress state (kvbm__degress): ticks from the egress thread, flush
 *                 and back-pressure (the publisher serves replays on its own thread).
 *   shared->mu    metrics source vs destroy.
 */
#ifndef KVBM_EXT_CONS_DAEMON_INT_H
#define KVBM_EXT_CONS_DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "internal.h"
#include "kvbm/consolidator.h"
#include "kvbm/consolidator_vllm.h"
#include "cons_int.h"

#define KVBM__DMOD "consolidator"
/* An ingest thread that finds more tracker events queued than this runs the egress tick
 * itself: ingest slows to the egress' pace instead of the queue growing without bound. */
#define KVBM__DBACKLOG 65536

typedef struct kvbm__dinput {
    kvbm_consolidator *c;
    size_t            index;
    kvbm_cons_source  source;
    char             *name;
    kvbm_vllm_sub    *sub;
    pthread_t         th;
    bool              started;
    bool              track_held;  /* several inputs: remember what this one holds */
    bool              shared_kind; /* another input has the same source kind */
    kvbm__cmap        held;     /* k0 = hash: what this input holds (under ingest_mu) */
    _Atomic uint64_t  batches, stores, removes, skipped, unknown_removes, dups;
} kvbm__dinput;

typedef struct kvbm__dshared {
    pthread_mutex_t    mu;
    kvbm_consolidator *c;     /* NULL once destroyed */
    _Atomic int        refs;
} kvbm__dshared;

struct kvbm_consolidator {
    kvbm_cons_tracker *tracker;
    kvbm__dinput      *in;
    size_t             n_in;
    pthread_mutex_t    ingest_mu;
    pthread_mutex_t    egress_mu; /* the egress state: ticks (thread, flush) and replay serving */
    kvbm__cmap         refs;   /* k0 = hash, k1 = kind: refs[0] = inputs holding it (ingest_mu) */
    /* kvbm stream */
    kvbm_events_sub   *ksub;
    pthread_t          kth;
    bool               kstarted;
    _Atomic uint64_t   kvbm_events, kvbm_lost;
    /* egress */
    struct kvbm__degress *eg;
    pthread_t          eth;
    bool               estarted;
    int                poll_ms;
    _Atomic uint64_t   batches_out, events_out, egress_errors;
    struct kvbm__drouter *router; /* NULL: no RouterEvent output */
    _Atomic uint64_t   router_events_out, router_errors;
    atomic_bool        stop;
    bool               stopped;
    kvbm__dshared     *shared;
    kvbm_aggregator   *agg;
    kvbm_source_id     agg_id;
};

/* daemon_ingest.c */
void *kvbm__dinput_thread(void *arg);
void *kvbm__dkvbm_thread(void *arg);
/* daemon_egress.c: open (bind), one tick (drain + publish; true if something was sent),
 * close. */
kvbm_status kvbm__degress_open(kvbm_consolidator *c, const kvbm_consolidator_config *cfg);
bool kvbm__degress_tick(kvbm_consolidator *c);
void kvbm__degress_close(kvbm_consolidator *c);
void kvbm__degress_free(kvbm_consolidator *c);
const char *kvbm__degress_endpoint(const kvbm_consolidator *c, bool replay);
/* daemon_router.c: open (config router_publisher), publish the RouterEvents of sorted
 * drained events (egress thread / flush, under egress_mu), free. */
kvbm_status kvbm__drouter_open(kvbm_consolidator *c, const kvbm_consolidator_config *cfg);
void kvbm__drouter_publish(kvbm_consolidator *c, const kvbm_cons_events *ev);
void kvbm__drouter_free(kvbm_consolidator *c);
/* At stop: give the router publisher up to 500 ms to hand over what it queued. */
void kvbm__drouter_flush(kvbm_consolidator *c);
/* daemon_metrics.c */
void kvbm__dshared_release(kvbm__dshared *s);

static inline bool kvbm__dstopping(const kvbm_consolidator *c)
{
    return atomic_load_explicit(&c->stop, memory_order_relaxed);
}

#define KVBM__DINC(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
/* A tracker call whose failure the tracker logs itself (warnings, counted). */
#define KVBM__DIGNORE(x) do { kvbm_status kvbm__d_ = (x); (void)kvbm__d_; } while (0)
#define KVBM__DLD(p) atomic_load_explicit((p), memory_order_relaxed)

#endif /* KVBM_EXT_CONS_DAEMON_INT_H */
