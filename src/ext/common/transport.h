/* src/ext/common/transport.h - what every transport publisher shares (compiled into each
 * transport library): the queue, the sender thread, the create/teardown skeleton and the
 * stats lookup. A transport's context embeds a kvbm__transport as its FIRST member. */
#ifndef KVBM_EXT_TRANSPORT_H
#define KVBM_EXT_TRANSPORT_H

#include "kvbm/publisher.h"
#include "msgq.h"

typedef struct kvbm__transport {
    kvbm__msgq       q;
    pthread_t        thread;
    bool             started;    /* sender thread running */
    _Atomic uint64_t bytes_sent; /* payload bytes handed to the transport */
} kvbm__transport;

typedef kvbm_status (*kvbm__publish_fn)(void *, const char *, const uint8_t *, size_t);

/* Start @sender(@t) (the context: @t is its first member). KVBM_OK or KVBM_EIO. */
kvbm_status kvbm__transport_start(kvbm__transport *t, const char *who, void *(*sender)(void *));
/* Stop the queue and join the sender, if they exist (first step of every teardown). */
void kvbm__transport_stop(kvbm__transport *t);
/* Free the queue, if it exists (after the transport's own resources). */
void kvbm__transport_free_queue(kvbm__transport *t);

/* The create skeleton: check @cfg/@out (detail names @fn), calloc @size bytes, @start them,
 * wrap them into a publisher with @ops; on any failure @teardown (which must accept a
 * partly started context) and return the status. */
kvbm_status kvbm__transport_create(const char *fn, const char *who, size_t size, const void *cfg,
                                   kvbm_status (*start)(void *ctx, const void *cfg),
                                   void (*teardown)(void *ctx), const kvbm_publisher_ops *ops,
                                   kvbm_publisher **out);

/* For a get_stats call: the context behind @p if it was made with @publish (else NULL, with
 * a detail naming @fn and @kind), and a snapshot of its queue counters in *@n. */
void *kvbm__transport_stats(const kvbm_publisher *p, kvbm__publish_fn publish, const void *out,
                            const char *fn, const char *kind, kvbm__msgq_counts *n);

#endif /* KVBM_EXT_TRANSPORT_H */
