/* tests/ext/nats/nats_test_env.h - a nats-server on a free loopback port plus the
 * independent Python subscriber (nats_sub.py), started and always stopped by the tests. */
#ifndef KVBM_TEST_NATS_ENV_H
#define KVBM_TEST_NATS_ENV_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "kvbm/nats.h"
#include "support/proc.h"
#include "support/sub_check.h"
#include "support/wire_vectors.h"

typedef struct nats_env {
    test_proc server, sub;
    int       port;       /* the server */
    int       pub_port;   /* where the publisher connects (the proxy, or the server) */
    char      url[64];
} nats_env;

/* Start the server (retrying on another port if a free one was taken meanwhile) and the
 * subscriber on @subject (with the cutting proxy when @proxy). */
static inline bool nats_env_start(nats_env *e, const char *subject, bool proxy)
{
    memset(e, 0, sizeof *e);
    for (int tries = 0; tries < 5 && !e->server.pid; tries++) {
        e->port = test_free_port();
        if (!e->port || !test_nats_server_start(&e->server, e->port, 10000)) e->server.pid = 0;
    }
    if (!e->server.pid) {
        fprintf(stderr, "cannot start nats-server (is the Debian package nats-server installed?)\n");
        return false;
    }
    char port[16], script[512], line[256];
    snprintf(port, sizeof port, "%d", e->port);
    snprintf(script, sizeof script, "%s/tests/ext/nats/nats_sub.py", KVBM_SOURCE_DIR);
    char *argv[] = { TEST_PYTHON, script, port, (char *)subject, proxy ? "--proxy" : NULL, NULL };
    if (!test_proc_spawn(&e->sub, argv) || !test_proc_expect(&e->sub, "READY ", line, sizeof line, 20000)) {
        fprintf(stderr, "the Python NATS subscriber did not start\n");
        return false;
    }
    int pp = atoi(line + 6);
    e->pub_port = pp ? pp : e->port;
    snprintf(e->url, sizeof e->url, "nats://127.0.0.1:%d", e->pub_port);
    return true;
}

static inline void nats_env_stop(nats_env *e)
{
    test_proc_stop(&e->sub, SIGTERM, 5000);
    test_proc_stop(&e->server, SIGTERM, 5000);
}

/* In a test: start env @e (subscriber on kvbm.events, with the proxy if @proxy) or fail the
 * test; then declare `kvbm_nats_config cfg` with cfg.url set to where the publisher goes. */
#define NATS_ENV_START(e, proxy)                                                             \
    nats_env e;                                                                              \
    if (!nats_env_start(&e, "kvbm.events", proxy)) {                                         \
        nats_env_stop(&e);                                                                   \
        ASSERT_TRUE(!"environment");                                                         \
    }                                                                                        \
    kvbm_nats_config cfg = KVBM_NATS_CONFIG_INIT;                                            \
    cfg.url = e.url

#endif
