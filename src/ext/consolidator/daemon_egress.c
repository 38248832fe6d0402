/* src/ext/consolidator/daemon_egress.c - the daemon's egress (spec 20 §4.3.4): a tick
 * drains the tracker into the daemon's event list, encodes it with kvbm_cons_egress (sort,
 * router projection, one vLLM batch [ts, events, 0] in array form) and publishes it with
 * kvbm_vllm_pub (frames ["", seq BE8, payload], optional replay ROUTER served by the
 * publisher's own thread); with a router publisher the same sorted events also go out as
 * Dynamo RouterEvents (daemon_router.c). */
#include "daemon_int.h"

#include <stdio.h>

#define WHO "consolidator egress"

typedef struct kvbm__degress {
    kvbm_cons_egress *eg;
    kvbm_cons_events *ev;  /* the drained events of the current tick */
    kvbm_vllm_pub    *pub;
    char              ep[160], rep_ep[160];
} kvbm__degress;

/* "...:0" (any free port) as ZeroMQ spells it, "...:*". */
static void any_port(const char *in, char *out, size_t cap)
{
    snprintf(out, cap, "%s", in);
    size_t l = strlen(out);
    if (l > 2 && !strcmp(out + l - 2, ":0")) out[l - 1] = '*';
}

kvbm_status kvbm__degress_open(kvbm_consolidator *c, const kvbm_consolidator_config *cfg)
{
    kvbm__degress *g = kvbm__calloc(1, sizeof *g);
    if (!g) {
        kvbm__set_error("%s: out of memory", WHO);
        return KVBM_ENOMEM;
    }
    c->eg = g;
    KVBM_TRY(kvbm_cons_egress_create(&g->eg));
    KVBM_TRY(kvbm_cons_events_create(&g->ev));
    char ep[160], rep[160];
    any_port(cfg->out_endpoint, ep, sizeof ep);
    if (cfg->out_replay_endpoint) any_port(cfg->out_replay_endpoint, rep, sizeof rep);
    kvbm_vllm_pub_config pc = KVBM_VLLM_PUB_CONFIG_INIT;
    pc.endpoint = ep;
    pc.replay_endpoint = cfg->out_replay_endpoint ? rep : NULL;
    pc.form = KVBM_VLLM_FORM_ARRAY;
    KVBM_TRY(kvbm_vllm_pub_create(&pc, &g->pub));
    KVBM_TRY(kvbm_vllm_pub_endpoint(g->pub, false, g->ep, sizeof g->ep));
    if (cfg->out_replay_endpoint) KVBM_TRY(kvbm_vllm_pub_endpoint(g->pub, true, g->rep_ep, sizeof g->rep_ep));
    return KVBM_OK;
}

void kvbm__degress_close(kvbm_consolidator *c)
{
    if (!c->eg) return;
    kvbm_vllm_pub_destroy(c->eg->pub);
    c->eg->pub = NULL;
}

void kvbm__degress_free(kvbm_consolidator *c)
{
    kvbm__degress *g = c->eg;
    if (!g) return;
    kvbm__degress_close(c);
    kvbm_cons_egress_destroy(g->eg);
    kvbm_cons_events_destroy(g->ev);
    kvbm__free(g);
    c->eg = NULL;
}

const char *kvbm__degress_endpoint(const kvbm_consolidator *c, bool replay)
{
    if (!c->eg) return NULL;
    return replay ? (c->eg->rep_ep[0] ? c->eg->rep_ep : NULL) : c->eg->ep;
}

static void lost(kvbm_consolidator *c, size_t events)
{
    KVBM__DINC(&c->egress_errors, 1);
    kvbm__log(KVBM_LOG_WARN, KVBM__DMOD, "egress: a batch of %zu events was lost: %s", events, kvbm_last_error());
}

bool kvbm__degress_tick(kvbm_consolidator *c)
{
    kvbm__degress *g = c->eg;
    if (!g || !g->pub || kvbm_cons_tracker_drain(c->tracker, g->ev) != KVBM_OK) return false;
    size_t n = kvbm_cons_events_count(g->ev);
    if (!n) return false;
    const uint8_t *payload = NULL;
    size_t len = 0;
    uint64_t seq = 0;
    if (kvbm_cons_egress_encode(g->eg, g->ev, -1.0, &payload, &len, NULL) != KVBM_OK) {
        lost(c, n);
        return false;
    }
    if (c->router) kvbm__drouter_publish(c, g->ev); /* sorted in place by the encode */
    if (kvbm_vllm_pub_send_payload(g->pub, payload, len, &seq) != KVBM_OK) {
        lost(c, n);
        return false;
    }
    KVBM__DINC(&c->batches_out, 1);
    KVBM__DINC(&c->events_out, n);
    if (kvbm__log_enabled(KVBM_LOG_DEBUG))
        kvbm__log(KVBM_LOG_DEBUG, KVBM__DMOD, "event=egress seq=%llu events=%zu bytes=%zu",
                  (unsigned long long)seq, n, len);
    return true;
}
