/* tests/events/test_events_ring.c - the broadcast ring's slot layout (events_int.h): the
 * hashes slot by slot and the kinds one bit each, written a 64-bit word at a time from the
 * senders' copy. Batches of every size, mixed kinds, across word boundaries and the ring's
 * wrap-around, in rings smaller than, equal to and larger than one kind word. */
#include "harness.h"
#include "events/events_int.h"

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static kvbm__pending_event event_at(uint64_t pos, uint64_t kind)
{
    kvbm__pending_event e = { kind, { pos * 0x9e3779b97f4a7c15ull, ~pos } };
    return e;
}

/* The ring sizes every test runs: under, at and above one kind word, and a larger one. */
static const size_t caps[] = { 16, 64, 128, 1024 };

static kvbm_status chan_open(size_t cap, kvbm__chan **c, kvbm_events_sub **s)
{
    kvbm_status st = kvbm__chan_create(cap, c);
    if (st == KVBM_OK && (st = kvbm__chan_subscribe(*c, s)) != KVBM_OK) {
        kvbm__chan_senders_add(*c, -1);
        kvbm__chan_unref(*c);
    }
    return st;
}

static void chan_free(kvbm__chan *c, kvbm_events_sub *s)
{
    kvbm_events_unsubscribe(s);
    kvbm__chan_senders_add(c, -1);
    kvbm__chan_unref(c);
}

/* Expect the events of positions [from, to) with the kinds of @kinds (indexed by position). */
static bool read_back(kvbm_events_sub *s, uint64_t from, uint64_t to, const uint8_t *kinds)
{
    for (uint64_t q = from; q < to; q++) {
        kvbm_event ev;
        if (kvbm_events_next(s, 0, &ev, NULL) != KVBM_OK) return false;
        kvbm__pending_event want = event_at(q, kinds[q]);
        if ((uint64_t)ev.kind != want.kind || ev.hash.hi != want.hash.hi || ev.hash.lo != want.hash.lo)
            return false;
    }
    kvbm_event ev;
    return kvbm_events_next(s, 0, &ev, NULL) == KVBM_ETIMEDOUT;
}

KVBM_TEST(ring_keeps_kinds_and_hashes_for_every_batch_shape)
{
    enum { TOTAL = 12000 };
    static uint8_t kinds[TOTAL];
    kvbm__pending_event batch[200];
    for (size_t ci = 0; ci < sizeof caps / sizeof caps[0]; ci++) {
        kvbm__chan *c;
        kvbm_events_sub *s;
        ASSERT_OK(chan_open(caps[ci], &c, &s));
        uint64_t pos = 0;
        for (size_t size = 1; pos + size + 3 * caps[ci] + 5 <= TOTAL; size = size % 131 + 1) {
            size_t n = size < caps[ci] ? size : caps[ci];
            uint64_t mode = next_rand() % 4; /* all Create, all Remove, mixed, alternating */
            for (size_t i = 0; i < n; i++) {
                uint64_t k = mode == 0 ? 0 : mode == 1 ? 1 : mode == 2 ? next_rand() & 1 : (pos + i) & 1;
                kinds[pos + i] = (uint8_t)k;
                batch[i] = event_at(pos + i, k);
            }
            kvbm__chan_send_many(c, batch, n);
            if (!read_back(s, pos, pos + n, kinds)) {
                EXPECT_TRUE(!"batch read back differs");
                break;
            }
            pos += n;
        }
        uint64_t removes = 0;
        for (uint64_t q = 0; q < pos; q++) removes += kinds[q];
        EXPECT_EQ_U64(atomic_load(&c->sent[0]), pos - removes);
        EXPECT_EQ_U64(atomic_load(&c->sent[1]), removes);

        /* three laps unread: the last capacity events survive, with their kinds */
        uint64_t start = pos, end = pos + 3 * caps[ci] + 5;
        for (uint64_t q = start; q < end; q++) {
            kinds[q] = (uint8_t)(next_rand() & 1);
            batch[0] = event_at(q, kinds[q]);
            kvbm__chan_send_many(c, batch, 1);
        }
        kvbm_event ev;
        uint64_t lost = 0;
        EXPECT_STATUS(kvbm_events_next(s, 0, &ev, &lost), KVBM_ELAGGED);
        EXPECT_EQ_U64(lost, end - start - caps[ci]);
        EXPECT_TRUE(read_back(s, end - caps[ci], end, kinds));
        chan_free(c, s);
    }
}

/* Check @n events read by kvbm__events_next_bits (@h, @kinds) against positions from @from;
 * the kind bits beyond @n must be clear. */
static bool bits_match(const kvbm_plh *h, const uint64_t *kinds, size_t n, size_t max, uint64_t from,
                       const uint8_t *want_kinds)
{
    for (size_t j = 0; j < n; j++) {
        kvbm__pending_event want = event_at(from + j, want_kinds[from + j]);
        if ((kinds[j / 64] >> (j % 64) & 1) != want.kind || h[j].hi != want.hash.hi || h[j].lo != want.hash.lo)
            return false;
    }
    for (size_t j = n; j < (max + 63) / 64 * 64; j++)
        if (kinds[j / 64] >> (j % 64) & 1) return false;
    return true;
}

/* The pipeline worker's read (kvbm__events_next_bits): hashes and kind bits at any output
 * offset (runs across ring words, output words and the wrap-around, rings under one kind
 * word), events kvbm_events_next had copied to its buffer first, lag, interruption. */
KVBM_TEST(ring_next_bits_reads_every_shape)
{
    enum { TOTAL = 20000 };
    static uint8_t kinds[TOTAL];
    static kvbm_plh h[300];
    uint64_t kb[5];
    kvbm__pending_event batch[200];
    for (size_t ci = 0; ci < sizeof caps / sizeof caps[0]; ci++) {
        kvbm__chan *c;
        kvbm_events_sub *s;
        ASSERT_OK(chan_open(caps[ci], &c, &s));
        uint64_t sent = 0, read = 0;
        while (sent + 200 + 4 * caps[ci] < TOTAL) {
            size_t n = 1 + (size_t)(next_rand() % (caps[ci] < 200 ? caps[ci] : 200));
            if (sent + n - read > caps[ci]) n = (size_t)(caps[ci] - (sent - read)); /* no lag here */
            uint64_t mode = next_rand() % 4;
            for (size_t i = 0; i < n; i++) {
                uint64_t k = mode == 0 ? 0 : mode == 1 ? 1 : mode == 2 ? next_rand() & 1 : (sent + i) & 1;
                kinds[sent + i] = (uint8_t)k;
                batch[i] = event_at(sent + i, k);
            }
            kvbm__chan_send_many(c, batch, n);
            sent += n;
            if (next_rand() % 5 == 0 && read < sent) { /* one through kvbm_events_next: the rest of its copy stays buffered */
                kvbm_event ev;
                ASSERT_STATUS(kvbm_events_next(s, 0, &ev, NULL), KVBM_OK);
                kvbm__pending_event want = event_at(read, kinds[read]);
                ASSERT_TRUE((uint64_t)ev.kind == want.kind && ev.hash.hi == want.hash.hi);
                read++;
            }
            while (read < sent) {
                size_t max = 1 + (size_t)(next_rand() % 300);
                kvbm_status st;
                uint64_t lost = 0;
                memset(kb, 0xff, sizeof kb); /* next_bits zeroes what it uses */
                size_t got = kvbm__events_next_bits(s, h, kb, max, &lost, &st);
                ASSERT_STATUS(st, KVBM_OK);
                ASSERT_TRUE(got > 0 && got <= max && got <= sent - read);
                ASSERT_TRUE(bits_match(h, kb, got, max, read, kinds));
                read += got;
            }
        }
        /* lag: four laps unread, then the oldest available positions */
        for (uint64_t q = sent; q < sent + 4 * caps[ci]; q++) {
            kinds[q] = (uint8_t)(next_rand() & 1);
            batch[0] = event_at(q, kinds[q]);
            kvbm__chan_send_many(c, batch, 1);
        }
        uint64_t end = sent + 4 * caps[ci], lost = 0;
        kvbm_status st;
        size_t got = kvbm__events_next_bits(s, h, kb, 300, &lost, &st);
        EXPECT_STATUS(st, KVBM_ELAGGED);
        EXPECT_EQ(got, 0);
        EXPECT_EQ_U64(lost, end - caps[ci] - sent);
        read = end - caps[ci];
        while (read < end) {
            got = kvbm__events_next_bits(s, h, kb, 300, &lost, &st);
            ASSERT_STATUS(st, KVBM_OK);
            ASSERT_TRUE(got > 0 && bits_match(h, kb, got, 300, read, kinds));
            read += got;
        }
        EXPECT_EQ(kvbm__events_next_bits(s, h, kb, 300, &lost, &st), 0);
        kvbm__events_sub_interrupt(s);
        EXPECT_EQ(kvbm__events_next_bits(s, h, kb, 300, &lost, &st), 0);
        EXPECT_STATUS(st, KVBM_ECLOSED);
        chan_free(c, s);
    }
}
