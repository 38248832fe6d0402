/* tests/ext/zmq/zmq_test_env.h - the independent Python subscriber (zmq_sub.py), started
 * and always stopped by the ZeroMQ tests, and a publisher connected/bound to it. */
#ifndef KVBM_TEST_ZMQ_ENV_H
#define KVBM_TEST_ZMQ_ENV_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kvbm/zmq.h"
#include "support/proc.h"
#include "support/sub_check.h"
#include "support/wire_vectors.h"

/* Start zmq_sub.py with @mode ("--bind" or "--connect"), @port (for --connect), @hold.
 * Returns the port it reported (0 on failure). */
static inline int zmq_sub_start(test_proc *sub, const char *mode, int port, bool hold)
{
    char ps[16], script[512], line[128];
    snprintf(ps, sizeof ps, "%d", port);
    snprintf(script, sizeof script, "%s/tests/ext/zmq/zmq_sub.py", KVBM_SOURCE_DIR);
    char *argv[] = { TEST_PYTHON, script, (char *)mode, ps, hold ? "--hold" : NULL, NULL };
    if (!strcmp(mode, "--bind")) {
        argv[3] = hold ? "--hold" : NULL;
        argv[4] = NULL;
    }
    if (!test_proc_spawn(sub, argv) || !test_proc_expect(sub, "READY ", line, sizeof line, 20000)) {
        fprintf(stderr, "the Python ZeroMQ subscriber did not start\n");
        return 0;
    }
    return atoi(line + 6);
}

/* Wait until the publisher saw @n subscriptions (ZeroMQ subscribes in the background). */
static inline bool zmq_wait_subscribed(kvbm_publisher *p, uint64_t n)
{
    kvbm_zmq_stats s;
    for (int i = 0; i < 30000; i++) {
        if (kvbm_zmq_publisher_get_stats(p, &s) != KVBM_OK) return false;
        if (s.subscriptions >= n) return true;
        usleep(1000);
    }
    return false;
}

/* A publisher connecting to a Python subscriber that binds; the subscriber in *@sub. */
static inline kvbm_publisher *zmq_pair_connect(test_proc *sub, bool hold, uint32_t cap)
{
    int port = zmq_sub_start(sub, "--bind", 0, hold);
    if (!port) return NULL;
    char url[64];
    snprintf(url, sizeof url, "zmq+tcp://127.0.0.1:%d", port);
    kvbm_zmq_config cfg = KVBM_ZMQ_CONFIG_INIT;
    cfg.url = url;
    cfg.queue_capacity = cap;
    kvbm_publisher *p = NULL;
    if (kvbm_zmq_publisher_create(&cfg, &p) != KVBM_OK) {
        fprintf(stderr, "zmq publisher: %s\n", kvbm_last_error());
        return NULL;
    }
    if (!zmq_wait_subscribed(p, 1)) {
        kvbm_publisher_release(p);
        return NULL;
    }
    return p;
}

#endif
