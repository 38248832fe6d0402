/* src/ext/common/transport.c - see transport.h. */
#include "transport.h"

kvbm_status kvbm__transport_start(kvbm__transport *t, const char *who, void *(*sender)(void *))
{
    if (pthread_create(&t->thread, NULL, sender, t) != 0) {
        kvbm__set_error("%s: cannot start the sender thread", who);
        return KVBM_EIO;
    }
    t->started = true;
    return KVBM_OK;
}

void kvbm__transport_stop(kvbm__transport *t)
{
    if (t->q.ring) kvbm__msgq_stop(&t->q);
    if (t->started) pthread_join(t->thread, NULL);
    t->started = false;
}

void kvbm__transport_free_queue(kvbm__transport *t)
{
    if (t->q.ring) kvbm__msgq_destroy(&t->q);
}

kvbm_status kvbm__transport_create(const char *fn, const char *who, size_t size, const void *cfg,
                                   kvbm_status (*start)(void *ctx, const void *cfg),
                                   void (*teardown)(void *ctx), const kvbm_publisher_ops *ops,
                                   kvbm_publisher **out)
{
    if (!out || !cfg) {
        kvbm__set_error("%s: %s is NULL", fn, out ? "cfg" : "out");
        return KVBM_EINVAL;
    }
    *out = NULL;
    void *c = kvbm__calloc(1, size);
    if (!c) {
        kvbm__set_error("%s: out of memory", who);
        return KVBM_ENOMEM;
    }
    kvbm_status st = start(c, cfg);
    if (st == KVBM_OK && (st = kvbm_publisher_create(ops, c, out)) == KVBM_OK) return KVBM_OK;
    teardown(c);
    return st;
}

void *kvbm__transport_stats(const kvbm_publisher *p, kvbm__publish_fn publish, const void *out,
                            const char *fn, const char *kind, kvbm__msgq_counts *n)
{
    kvbm__transport *t = kvbm_publisher_context(p, publish);
    if (!t || !out) {
        kvbm__set_error("%s: %s%s", fn, !out ? "out is NULL" : "not a ", !out ? "" : kind);
        return NULL;
    }
    kvbm__msgq_counts_get(&t->q, n);
    return t;
}
