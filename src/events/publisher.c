/* src/events/publisher.c - the refcounted wrapper around a publisher ops table. */
#include "internal.h"
#include "kvbm/publisher.h"

struct kvbm_publisher {
    kvbm_publisher_ops ops;
    void              *ctx;
    _Atomic uint32_t   refs;
    _Atomic uint64_t   published, bytes, errors, flushes, flush_errors;
};

kvbm_status kvbm_publisher_create(const kvbm_publisher_ops *ops, void *ctx, kvbm_publisher **out)
{
    if (!out) {
        kvbm__set_error("kvbm_publisher_create: out is NULL");
        return KVBM_EINVAL;
    }
    *out = NULL;
    if (!ops || !ops->publish) {
        kvbm__set_error("kvbm_publisher_create: %s is NULL", ops ? "ops->publish" : "ops");
        return KVBM_EINVAL;
    }
    kvbm_publisher *p = kvbm__calloc(1, sizeof *p);
    if (!p) {
        kvbm__set_error("kvbm_publisher_create: out of memory");
        return KVBM_ENOMEM;
    }
    p->ops = *ops;
    p->ctx = ctx;
    atomic_init(&p->refs, 1);
    *out = p;
    return KVBM_OK;
}

kvbm_publisher *kvbm_publisher_acquire(kvbm_publisher *p)
{
    if (p) atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void kvbm_publisher_release(kvbm_publisher *p)
{
    if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
    if (p->ops.destroy) p->ops.destroy(p->ctx);
    kvbm__free(p);
}

static void count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

kvbm_status kvbm_publisher_publish(kvbm_publisher *p, const char *subject, const uint8_t *buf,
                                   size_t len)
{
    if (!p || !subject || (!buf && len > 0)) {
        kvbm__set_error("kvbm_publisher_publish: %s is NULL", !p ? "publisher" : !subject ? "subject" : "buf");
        return KVBM_EINVAL;
    }
    kvbm_status st = p->ops.publish(p->ctx, subject, buf, len);
    if (st == KVBM_OK) {
        count(&p->published, 1);
        count(&p->bytes, len);
    } else {
        count(&p->errors, 1);
    }
    return st;
}

kvbm_status kvbm_publisher_flush(kvbm_publisher *p, int timeout_ms)
{
    if (!p) {
        kvbm__set_error("kvbm_publisher_flush: publisher is NULL");
        return KVBM_EINVAL;
    }
    kvbm_status st = p->ops.flush ? p->ops.flush(p->ctx, timeout_ms) : KVBM_OK;
    count(st == KVBM_OK ? &p->flushes : &p->flush_errors, 1);
    return st;
}

kvbm_status kvbm_publisher_get_stats(const kvbm_publisher *p, kvbm_publisher_stats *out)
{
    if (!p || !out) {
        kvbm__set_error("kvbm_publisher_get_stats: %s is NULL", !p ? "publisher" : "out");
        return KVBM_EINVAL;
    }
    kvbm_publisher *q = (kvbm_publisher *)p; /* relaxed loads of the counters only */
    out->published = atomic_load_explicit(&q->published, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&q->bytes, memory_order_relaxed);
    out->errors = atomic_load_explicit(&q->errors, memory_order_relaxed);
    out->flushes = atomic_load_explicit(&q->flushes, memory_order_relaxed);
    out->flush_errors = atomic_load_explicit(&q->flush_errors, memory_order_relaxed);
    return KVBM_OK;
}

void *kvbm_publisher_context(const kvbm_publisher *p,
                             kvbm_status (*publish)(void *, const char *, const uint8_t *, size_t))
{
    return p && publish && p->ops.publish == publish ? p->ctx : NULL;
}
