/* tests/ext/nats/test_msgq.c - the transports' message queue (src/ext/common/msgq.c, in
 * every transport library; tested here through kvbm_nats): the batched take and the spare
 * buffers of session 14. No server needed. */
#include "harness.h"
#include "ext/common/msgq.h"

static void fill(uint8_t *b, size_t len, unsigned tag)
{
    for (size_t i = 0; i < len; i++) b[i] = (uint8_t)(tag * 31 + i);
}

static bool payload_is(const kvbm__msg *m, size_t len, unsigned tag)
{
    if (m->len != len || strcmp(kvbm__msg_subject(m), "s.t") != 0) return false;
    for (size_t i = 0; i < len; i++)
        if (kvbm__msg_payload(m)[i] != (uint8_t)(tag * 31 + i)) return false;
    return true;
}

/* try_take_many takes what k try_take calls would: the same messages, sequence numbers
 * from *seq, at most max, another only while the bytes taken are below max_bytes. */
KVBM_TEST(msgq_take_many_is_a_run_of_try_takes)
{
    static uint8_t buf[5000];
    kvbm__msgq a, b;
    ASSERT_OK(kvbm__msgq_init(&a, 256));
    ASSERT_OK(kvbm__msgq_init(&b, 256));
    uint64_t s = test_seed() | 1;
    size_t lens[200];
    for (unsigned i = 0; i < 200; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        lens[i] = (size_t)(s % 5000);
        fill(buf, lens[i], i);
        ASSERT_OK(kvbm__msgq_push(&a, "t", "s.t", buf, lens[i]));
        ASSERT_OK(kvbm__msgq_push(&b, "t", "s.t", buf, lens[i]));
    }
    size_t taken = 0;
    while (taken < 200) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        size_t max = 1 + (size_t)(s % 70), max_bytes = 1 + (size_t)(s >> 20) % 40000;
        kvbm__msg m[70];
        uint64_t seq = UINT64_MAX;
        size_t k = kvbm__msgq_try_take_many(&b, m, max, max_bytes, &seq);
        ASSERT_GT(k, 0);
        ASSERT_TRUE(k <= max);
        ASSERT_EQ_U64(seq, taken);
        size_t bytes = 0;
        for (size_t i = 0; i < k; i++) {
            ASSERT_TRUE(bytes < max_bytes); /* taken only while below */
            kvbm__msg r;
            uint64_t rs;
            ASSERT_TRUE(kvbm__msgq_try_take(&a, &r, &rs));
            EXPECT_EQ_U64(rs, taken + i);
            EXPECT_TRUE(payload_is(&m[i], lens[taken + i], (unsigned)(taken + i)));
            EXPECT_TRUE(payload_is(&r, lens[taken + i], (unsigned)(taken + i)));
            bytes += m[i].len;
        }
        /* stopped for a reason: max, the byte budget, or the queue is empty */
        EXPECT_TRUE(k == max || bytes >= max_bytes || taken + k == 200);
        taken += k;
        kvbm__msgq_done(&b, taken);
        kvbm__msgq_done(&a, taken);
    }
    kvbm__msg m[4];
    uint64_t seq;
    EXPECT_EQ(kvbm__msgq_try_take_many(&b, m, 4, 100, &seq), 0);
    kvbm__msgq_counts n;
    kvbm__msgq_counts_get(&b, &n);
    EXPECT_EQ_U64(n.done, 200);
    EXPECT_EQ_U64(n.queued, 0);
    kvbm__msgq_stop(&b);
    ASSERT_OK(kvbm__msgq_push(&a, "t", "s.t", buf, 10));
    kvbm__msgq_stop(&a); /* a queued message: none taken once stopped */
    EXPECT_EQ(kvbm__msgq_try_take_many(&a, m, 4, 100, &seq), 0);
    kvbm__msgq_destroy(&a);
    kvbm__msgq_destroy(&b);
}

/* Done messages' buffers serve the next pushes (the last one kept first) when large
 * enough; a queue keeps at most its capacity (and KVBM__MSGQ_SPARE) of them, none above
 * KVBM__MSGQ_SPARE_SIZE, KVBM__MSGQ_SPARE_BYTES in all; contents stay intact across reuse,
 * rewind and resend; destroy frees the spares (ASan: no leak). */
KVBM_TEST(msgq_reuses_done_buffers_within_bounds)
{
    static uint8_t buf[KVBM__MSGQ_SPARE_SIZE + 100];
    kvbm__msgq q;
    ASSERT_OK(kvbm__msgq_init(&q, 8));
    EXPECT_EQ(q.nspare_max, 8);
    fill(buf, 300, 1);
    ASSERT_OK(kvbm__msgq_push(&q, "t", "s.t", buf, 300));
    kvbm__msg m, m2;
    uint64_t seq;
    ASSERT_TRUE(kvbm__msgq_try_take(&q, &m, &seq));
    uint8_t *first = m.data;
    EXPECT_TRUE(m.size >= 300 + 4);
    kvbm__msgq_done(&q, seq + 1);
    EXPECT_EQ(q.nspare, 1);
    fill(buf, 400, 2); /* fits the 512-byte buffer: reused */
    ASSERT_OK(kvbm__msgq_push(&q, "t", "s.t", buf, 400));
    EXPECT_EQ(q.nspare, 0);
    ASSERT_TRUE(kvbm__msgq_try_take(&q, &m2, &seq));
    EXPECT_TRUE(m2.data == first);
    EXPECT_TRUE(payload_is(&m2, 400, 2));
    kvbm__msgq_rewind(&q); /* taken again after a rewind: the same bytes */
    ASSERT_TRUE(kvbm__msgq_try_take(&q, &m2, &seq));
    EXPECT_TRUE(payload_is(&m2, 400, 2));
    kvbm__msgq_done(&q, seq + 1);
    fill(buf, 5000, 3); /* larger than the spare: a new buffer, the spare stays */
    ASSERT_OK(kvbm__msgq_push(&q, "t", "s.t", buf, 5000));
    EXPECT_EQ(q.nspare, 1);
    ASSERT_TRUE(kvbm__msgq_try_take(&q, &m2, &seq));
    EXPECT_TRUE(m2.data != first);
    EXPECT_TRUE(payload_is(&m2, 5000, 3));
    kvbm__msgq_done(&q, seq + 1);
    EXPECT_EQ(q.nspare, 2);
    fill(buf, sizeof buf, 4); /* above KVBM__MSGQ_SPARE_SIZE: freed when done, not kept */
    ASSERT_OK(kvbm__msgq_push(&q, "t", "s.t", buf, sizeof buf));
    ASSERT_TRUE(kvbm__msgq_try_take(&q, &m2, &seq));
    EXPECT_TRUE(payload_is(&m2, sizeof buf, 4));
    kvbm__msgq_done(&q, seq + 1);
    EXPECT_EQ(q.nspare, 2);
    /* 8 messages too large for the spare on top (8 KiB): 10 buffers done, 8 kept */
    for (unsigned i = 0; i < 8; i++) {
        fill(buf, 9000 + i, 10 + i);
        ASSERT_OK(kvbm__msgq_push(&q, "t", "s.t", buf, 9000 + i));
    }
    EXPECT_EQ(q.nspare, 2);
    kvbm__msg ms[8];
    ASSERT_EQ(kvbm__msgq_try_take_many(&q, ms, 8, SIZE_MAX, &seq), 8);
    for (unsigned i = 0; i < 8; i++) EXPECT_TRUE(payload_is(&ms[i], 9000 + i, 10 + i));
    kvbm__msgq_done(&q, seq + 8);
    EXPECT_EQ(q.nspare, 8);
    for (unsigned i = 0; i < 3; i++) { /* queued and spare buffers at destroy */
        fill(buf, 700, 90 + i);
        ASSERT_OK(kvbm__msgq_push(&q, "t", "s.t", buf, 700));
    }
    EXPECT_EQ(q.nspare, 5);
    kvbm__msgq_destroy(&q);

    /* the byte budget: 80 buffers of 64 KiB done, 64 kept (4 MiB) */
    ASSERT_OK(kvbm__msgq_init(&q, 128));
    for (unsigned i = 0; i < 80; i++) ASSERT_OK(kvbm__msgq_push(&q, "t", "s.t", buf, 40000));
    kvbm__msg mm[80];
    ASSERT_EQ(kvbm__msgq_try_take_many(&q, mm, 80, SIZE_MAX, &seq), 80);
    kvbm__msgq_done(&q, seq + 80);
    EXPECT_EQ(q.nspare, KVBM__MSGQ_SPARE_BYTES / ((size_t)64 << 10));
    EXPECT_TRUE(q.spare_bytes <= KVBM__MSGQ_SPARE_BYTES);
    kvbm__msgq_destroy(&q);
}

/* A refused push (queue full, stopped) reports as before and keeps its buffer as a spare;
 * a message above COPY_LOCKED into a spare and one needing a new buffer queue intact. */
KVBM_TEST(msgq_refused_pushes_keep_their_status_and_buffer)
{
    static uint8_t buf[20000];
    kvbm__msgq q;
    ASSERT_OK(kvbm__msgq_init(&q, 2));
    fill(buf, 100, 1);
    ASSERT_OK(kvbm__msgq_push(&q, "who", "s.t", buf, 100));
    ASSERT_OK(kvbm__msgq_push(&q, "who", "s.t", buf, 100));
    EXPECT_STATUS(kvbm__msgq_push(&q, "who", "s.t", buf, 100), KVBM_EFULL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "who: send queue full (2 messages): newest message dropped");
    EXPECT_EQ(q.nspare, 1); /* the refused message's new buffer */
    kvbm__msgq_counts n;
    kvbm__msgq_counts_get(&q, &n);
    EXPECT_EQ_U64(n.dropped, 1);
    EXPECT_EQ_U64(n.accepted, 2);
    EXPECT_STATUS(kvbm__msgq_push(&q, "who", "s.t", buf, 100), KVBM_EFULL); /* into the spare */
    EXPECT_EQ(q.nspare, 1);
    kvbm__msg ms[2];
    uint64_t seq;
    ASSERT_EQ(kvbm__msgq_try_take_many(&q, ms, 2, SIZE_MAX, &seq), 2);
    kvbm__msgq_done(&q, seq + 2);
    EXPECT_EQ(q.nspare, 2);
    fill(buf, 8000, 2); /* > COPY_LOCKED: a new 8 KiB buffer (the spares are 512 bytes) */
    ASSERT_OK(kvbm__msgq_push(&q, "who", "s.t", buf, 8000));
    ASSERT_TRUE(kvbm__msgq_try_take(&q, &ms[0], &seq));
    EXPECT_TRUE(payload_is(&ms[0], 8000, 2));
    kvbm__msgq_done(&q, seq + 1);
    fill(buf, 6000, 3); /* > COPY_LOCKED into that spare, copied outside the lock */
    ASSERT_OK(kvbm__msgq_push(&q, "who", "s.t", buf, 6000));
    ASSERT_TRUE(kvbm__msgq_try_take(&q, &ms[0], &seq));
    EXPECT_TRUE(payload_is(&ms[0], 6000, 3));
    kvbm__msgq_stop(&q);
    EXPECT_STATUS(kvbm__msgq_push(&q, "who", "s.t", buf, 10), KVBM_ECLOSED);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "who: publisher is shutting down");
    kvbm__msgq_destroy(&q);
}
