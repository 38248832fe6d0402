/* tests/events/test_events_holdback_concurrent.c - kvbm_events_next's hold-back (channel.c,
 * KVBM__SUB_HOLD): a waiting subscriber stays sub->hold positions behind `published` while
 * the senders keep publishing, and still delivers every event, in order: the held ones once
 * the senders pause, at once for a poll (timeout 0). And under a concurrent sender that
 * never pauses: positions strictly increasing, delivered + lost == sent. */
#include <pthread.h>

#include "harness.h"
#include "events/events_int.h"

static kvbm__pending_event event_at(uint64_t pos)
{
    kvbm__pending_event e = { pos & 1, { pos * 0x9e3779b97f4a7c15ull, ~pos } };
    return e;
}

static bool is_event_at(const kvbm_event *ev, uint64_t pos)
{
    kvbm__pending_event want = event_at(pos);
    return (uint64_t)ev->kind == want.kind && ev->hash.hi == want.hash.hi && ev->hash.lo == want.hash.lo;
}

static void send_range(kvbm__chan *c, uint64_t from, uint64_t to)
{
    kvbm__pending_event batch[64];
    while (from < to) {
        size_t n = to - from < 64 ? (size_t)(to - from) : 64;
        for (size_t i = 0; i < n; i++) batch[i] = event_at(from + i);
        kvbm__chan_send_many(c, batch, n);
        from += n;
    }
}

static void chan_free(kvbm__chan *c, kvbm_events_sub *s)
{
    kvbm_events_unsubscribe(s);
    kvbm__chan_senders_add(c, -1);
    kvbm__chan_unref(c);
}

KVBM_TEST(holdback_distance_scales_with_small_rings)
{
    static const struct { size_t cap; uint64_t hold; } cases[] = {
        { 8, 1 }, { 1024, 128 }, { 16384, KVBM__SUB_HOLD }, { 65536, KVBM__SUB_HOLD },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kvbm__chan *c;
        kvbm_events_sub *s;
        ASSERT_OK(kvbm__chan_create(cases[i].cap, &c));
        ASSERT_OK(kvbm__chan_subscribe(c, &s));
        EXPECT_EQ_U64(s->hold, cases[i].hold);
        chan_free(c, s);
    }
}

/* Events 0 .. n-1 in order, the calls' timeouts alternating between @even and @odd. */
static bool read_in_order(kvbm_events_sub *s, uint64_t n, int even, int odd)
{
    for (uint64_t q = 0; q < n; q++) {
        kvbm_event ev;
        if (kvbm_events_next(s, q % 2 ? odd : even, &ev, NULL) != KVBM_OK || !is_event_at(&ev, q)) return false;
    }
    return true;
}

/* A 1024-slot ring (hold 128) with @n events published. */
static bool open_sent(kvbm__chan **c, kvbm_events_sub **s, uint64_t n)
{
    if (kvbm__chan_create(1024, c) != KVBM_OK) return false;
    if (kvbm__chan_subscribe(*c, s) != KVBM_OK) return false;
    send_range(*c, 0, n);
    return true;
}

KVBM_TEST(holdback_delivers_held_events_once_the_sender_pauses)
{
    /* fewer events than the hold, then more: waiting calls return every one in order */
    static const uint64_t totals[] = { 1, 100, 128, 129, 1000 };
    for (size_t t = 0; t < sizeof totals / sizeof totals[0]; t++) {
        kvbm__chan *c;
        kvbm_events_sub *s;
        ASSERT_TRUE(open_sent(&c, &s, totals[t]));
        ASSERT_TRUE(read_in_order(s, totals[t], 5000, -1));
        kvbm_event ev;
        EXPECT_EQ(kvbm_events_next(s, 0, &ev, NULL), KVBM_ETIMEDOUT);
        EXPECT_EQ(kvbm_events_next(s, 1, &ev, NULL), KVBM_ETIMEDOUT);
        chan_free(c, s);
    }
}

KVBM_TEST(holdback_waiting_call_leaves_the_last_events_in_the_ring)
{
    kvbm__chan *c;
    kvbm_events_sub *s;
    ASSERT_TRUE(open_sent(&c, &s, 200));
    kvbm_event ev;
    ASSERT_OK(kvbm_events_next(s, -1, &ev, NULL));
    EXPECT_TRUE(is_event_at(&ev, 0));
    EXPECT_EQ_U64(s->cursor, 200 - 128); /* copied up to published - hold, no further */
    chan_free(c, s);
}

KVBM_TEST(holdback_poll_holds_nothing_back)
{
    kvbm__chan *c;
    kvbm_events_sub *s;
    ASSERT_TRUE(open_sent(&c, &s, 200));
    kvbm_event ev;
    ASSERT_OK(kvbm_events_next(s, 0, &ev, NULL));
    EXPECT_TRUE(is_event_at(&ev, 0));
    EXPECT_EQ_U64(s->cursor, 200); /* everything published was copied at once */
    chan_free(c, s);
    ASSERT_TRUE(open_sent(&c, &s, 3));
    EXPECT_TRUE(read_in_order(s, 3, 0, 0));
    chan_free(c, s);
}

KVBM_TEST(holdback_closed_stream_delivers_held_events_then_ends)
{
    kvbm__chan *c;
    kvbm_events_sub *s;
    ASSERT_TRUE(open_sent(&c, &s, 50));
    kvbm__chan_close(c);
    EXPECT_TRUE(read_in_order(s, 50, -1, -1));
    kvbm_event ev;
    EXPECT_EQ(kvbm_events_next(s, -1, &ev, NULL), KVBM_ECLOSED);
    chan_free(c, s);
}

enum { SENT = 400000 };

static void *sender(void *arg)
{
    kvbm__chan *c = arg;
    uint64_t pos = 0, r = 0x9e3779b97f4a7c15ull;
    kvbm__pending_event batch[97];
    while (pos < SENT) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        size_t n = (size_t)(r % 97) + 1;
        if (n > SENT - pos) n = (size_t)(SENT - pos);
        for (size_t i = 0; i < n; i++) batch[i] = event_at(pos + i);
        kvbm__chan_send_many(c, batch, n);
        pos += n;
    }
    kvbm__chan_close(c);
    return NULL;
}

KVBM_TEST(holdback_concurrent_sender_order_and_accounting)
{
    kvbm__chan *c;
    kvbm_events_sub *s;
    ASSERT_OK(kvbm__chan_create(4096, &c));
    ASSERT_OK(kvbm__chan_subscribe(c, &s));
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, sender, c), 0);
    uint64_t delivered = 0, lost = 0, expect = 0;
    bool ordered = true;
    for (;;) {
        kvbm_event ev;
        uint64_t l = 0;
        kvbm_status st = kvbm_events_next(s, -1, &ev, &l);
        if (st == KVBM_ECLOSED) break;
        if (st == KVBM_ELAGGED) {
            lost += l;
            expect += l; /* the oldest position still available */
            continue;
        }
        ASSERT_OK(st);
        ordered &= is_event_at(&ev, expect);
        expect++;
        delivered++;
    }
    pthread_join(t, NULL);
    EXPECT_TRUE(ordered);
    EXPECT_EQ_U64(delivered + lost, SENT);
    EXPECT_EQ_U64(lost, kvbm_events_sub_lost(s));
    chan_free(c, s);
}
