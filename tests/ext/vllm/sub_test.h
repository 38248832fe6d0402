/* tests/ext/vllm/sub_test.h - helpers of the ingress subscriber tests (test_sub*.c): a
 * subscriber on the engine stand-in of tests/support/vllm_fake_pub.h, and a checker of
 * the "batch-<seq>" runs it delivers. */
#ifndef KVBM_TEST_VLLM_SUB_TEST_H
#define KVBM_TEST_VLLM_SUB_TEST_H

#include "support/vllm_fake_pub.h"

static inline kvbm_vllm_sub *sub_open(const fpub *f, bool replay, uint32_t cap, bool resume, uint64_t from)
{
    kvbm_vllm_sub_config c = KVBM_VLLM_SUB_CONFIG_INIT;
    c.endpoint = f->pub_ep;
    c.replay_endpoint = replay ? f->rep_ep : NULL;
    c.name = "test-engine";
    c.queue_capacity = cap;
    c.resume = resume;
    c.start_seq = from;
    kvbm_vllm_sub *s = NULL;
    if (kvbm_vllm_sub_create(&c, &s) != KVBM_OK) fprintf(stderr, "create: %s\n", kvbm_last_error());
    return s;
}

/* An engine stand-in (with a replay socket if @replay) and a connected subscriber of queue
 * @cap (0: default) on it; NULL (engine stopped) if either fails. */
static inline kvbm_vllm_sub *setup(fpub *f, bool replay, uint32_t cap)
{
    if (!fpub_start(f, replay, NULL)) return NULL;
    kvbm_vllm_sub *s = sub_open(f, replay, cap, false, 0);
    if (!s || !fpub_sync(f, s)) {
        kvbm_vllm_sub_destroy(s);
        fpub_stop(f);
        return NULL;
    }
    return s;
}

/* An engine stand-in @f without replay socket, and as replay endpoint @dead: a bound PUB,
 * which accepts the connection and never answers. A subscriber on both, its replay wait
 * @timeout_ms, resuming from 0 if @resume; NULL (both stopped) on failure. */
static inline kvbm_vllm_sub *setup_dead_replay(fpub *f, fpub *dead, int timeout_ms, bool resume)
{
    bool ok = fpub_start(f, false, NULL);
    if (!fpub_start(dead, false, NULL) || !ok) {
        fpub_stop(f);
        fpub_stop(dead);
        return NULL;
    }
    kvbm_vllm_sub_config c = KVBM_VLLM_SUB_CONFIG_INIT;
    c.endpoint = f->pub_ep;
    c.replay_endpoint = dead->pub_ep;
    c.replay_timeout_ms = timeout_ms;
    c.resume = resume;
    kvbm_vllm_sub *s = NULL;
    if (kvbm_vllm_sub_create(&c, &s) != KVBM_OK) {
        fprintf(stderr, "create: %s\n", kvbm_last_error());
        fpub_stop(f);
        fpub_stop(dead);
    }
    return s;
}

static inline void teardown(fpub *f, kvbm_vllm_sub *s)
{
    kvbm_vllm_sub_destroy(s);
    fpub_stop(f);
}

/* Receive @n sequenced batches and check they are exactly first, first+1, ... with the
 * "batch-<seq>" payloads. Returns how many matched. */
static inline int expect_run(kvbm_vllm_sub *s, uint64_t first, int n)
{
    for (int i = 0; i < n; i++) {
        kvbm_vllm_sub_msg m;
        if (fpub_recv_seq(s, 5000, &m) != KVBM_OK) return i;
        char want[32];
        int l = snprintf(want, sizeof want, "batch-%llu", (unsigned long long)(first + (uint64_t)i));
        if (m.seq != first + (uint64_t)i || m.len != (size_t)l || memcmp(m.payload, want, m.len)) {
            fprintf(stderr, "batch %d: seq %llu, payload %.*s (wanted %s)\n", i,
                    (unsigned long long)m.seq, (int)m.len, (const char *)m.payload, want);
            return i;
        }
    }
    return n;
}

#endif
