/* tests/ext/consolidator/daemon_env.h - helpers of the consolidator daemon tests: engines
 * (tests/support/vllm_fake_pub.h), a consolidator on free loopback ports, an output
 * reader that resumes from sequence 0 through the output's replay socket (so nothing the
 * consolidator published can be missed, whenever the reader starts). */
#ifndef KVBM_TEST_CONS_DAEMON_ENV_H
#define KVBM_TEST_CONS_DAEMON_ENV_H

#include "kvbm/consolidator.h"
#include "support/vllm_fake_pub.h"

#define DENV_HOUR_MS 3600000 /* a poll interval that never elapses in a test: flush decides */

/* A consolidator reading @n engines (source @src each, resume from 0). */
static inline kvbm_consolidator *denv_open(fpub *eng, size_t n, const char *const *src, int poll_ms,
                                           kvbm_events_manager *kvbm_events)
{
    kvbm_consolidator_input in[8];
    memset(in, 0, sizeof in);
    for (size_t i = 0; i < n && i < 8; i++) {
        in[i].source = src[i];
        in[i].endpoint = eng[i].pub_ep;
        in[i].replay_endpoint = eng[i].rep_ep;
        in[i].resume = true;
        in[i].start_seq = 0;
    }
    kvbm_consolidator_config cfg = KVBM_CONSOLIDATOR_CONFIG_INIT;
    cfg.inputs = in;
    cfg.n_inputs = n;
    cfg.kvbm_events = kvbm_events;
    cfg.out_endpoint = "tcp://127.0.0.1:0";
    cfg.out_replay_endpoint = "tcp://127.0.0.1:0";
    cfg.poll_interval_ms = poll_ms;
    kvbm_consolidator *c = NULL;
    if (kvbm_consolidator_create(&cfg, &c) != KVBM_OK) fprintf(stderr, "consolidator: %s\n", kvbm_last_error());
    return c;
}

/* A reader of the consolidator's output from sequence 0 on. */
static inline kvbm_vllm_sub *denv_reader(kvbm_consolidator *c)
{
    kvbm_vllm_sub_config sc = KVBM_VLLM_SUB_CONFIG_INIT;
    sc.endpoint = kvbm_consolidator_out_endpoint(c);
    sc.replay_endpoint = kvbm_consolidator_out_replay_endpoint(c);
    sc.name = "output";
    sc.resume = true;
    sc.start_seq = 0;
    kvbm_vllm_sub *r = NULL;
    if (kvbm_vllm_sub_create(&sc, &r) != KVBM_OK) fprintf(stderr, "reader: %s\n", kvbm_last_error());
    return r;
}

/* Wait (bounded, ~20 s) until every input of @c has received every batch its engine sent
 * and the consolidator applied all of them. */
static inline bool denv_wait_inputs(kvbm_consolidator *c, const fpub *eng, size_t n)
{
    for (int k = 0; k < 4000; k++) {
        uint64_t queued = 0;
        bool all = true;
        for (size_t i = 0; i < n; i++) {
            kvbm_vllm_sub_stats st;
            if (kvbm_consolidator_input_stats(c, i, &st) != KVBM_OK) return false;
            all = all && st.has_next_seq && st.next_seq >= eng[i].n;
            queued += st.batches;
        }
        kvbm_consolidator_stats cs;
        kvbm_consolidator_get_stats(c, &cs);
        if (all && cs.batches_in + cs.decode_errors >= queued) return true;
        usleep(5000);
    }
    return false;
}

/* Decode-space-backed copy of one egress event for assertions. */
typedef struct denv_ev {
    int      type;
    uint64_t hash, parent;
    bool     has_parent;
    uint32_t tokens[8];
    size_t   n_tokens;
} denv_ev;

#endif
