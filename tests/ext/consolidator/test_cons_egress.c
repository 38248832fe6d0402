/* tests/ext/consolidator/test_cons_egress.c - egress conversion and encoding (spec 20
 * §4.3.4): the hex vector at ts 1000.0, the output contract (§5.5 output_contract), the
 * §4.4 fixture replay fed DIRECTLY to the tracker as vLLM and as TRT-LLM (§5.5 e2e; the
 * replay through ZMQ is the daemon's test), and the sync sentinel. */
#include "cons_vllm_test.h"

#define V KVBM_CONS_SOURCE_VLLM
#define T KVBM_CONS_SOURCE_TRTLLM

static kvbm_cons_tracker *mk(void)
{
    kvbm_cons_tracker *t = NULL;
    return kvbm_cons_tracker_create(NULL, &t) == KVBM_OK ? t : NULL;
}

/* Drain @t through @eg at @ts and compare the payload with @want_hex. */
static bool payload_is(kvbm_cons_egress *eg, kvbm_cons_tracker *t, double ts, const char *want_hex)
{
    const uint8_t *p = NULL;
    size_t len = 0;
    if (kvbm_cons_egress_drain(eg, t, ts, &p, &len, NULL) != KVBM_OK) {
        printf("    egress: %s\n", kvbm_last_error());
        return false;
    }
    char *got = malloc(2 * len + 1);
    if (got == NULL) return false;
    cons_hex(p, len, got);
    bool ok = strcmp(got, want_hex) == 0;
    if (!ok) printf("    got  %s\n    want %s\n", got, want_hex);
    free(got);
    return ok;
}

KVBM_TEST(egress_hex_vector_ts_1000)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_egress *eg = NULL;
    ASSERT_OK(kvbm_cons_egress_create(&eg));
    uint32_t a[4] = {10, 20, 30, 40}, b[4] = {50, 60, 70, 80};
    uint64_t p1 = 1;
    ASSERT_OK(kvbm_cons_tracker_handle_store(t, V, 1, NULL, a, 4, 4, NULL));
    ASSERT_OK(kvbm_cons_tracker_handle_store(t, V, 2, &p1, b, 4, 4, NULL));
    ASSERT_OK(kvbm_cons_tracker_handle_remove(t, V, 1));
    EXPECT_TRUE(payload_is(eg, t, 1000.0, CONS_EGRESS_HEX));
    kvbm_cons_egress_destroy(eg);
    kvbm_cons_tracker_destroy(t);
}

/* Replay the three §4.4 fixture payloads as @src; one egress batch, ts zeroed. */
static void replay(kvbm_cons_source src)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_egress *eg = NULL;
    ASSERT_OK(kvbm_cons_egress_create(&eg));
    kvbm_cons_apply_stats as = {0};
    for (int i = 0; i < 3; i++) {
        uint8_t buf[64];
        size_t n = cons_unhex(cons_fixture_hex[i], buf, sizeof buf);
        ASSERT_TRUE(n != (size_t)-1);
        cons_space sp;
        ASSERT_TRUE(cons_space_init(&sp, n));
        kvbm_vllm_batch b;
        kvbm_status st = kvbm_vllm_batch_decode(buf, n, NULL, &b, &sp.sp);
        if (st == KVBM_OK) st = kvbm_cons_tracker_apply_vllm(t, src, &b, &as);
        cons_space_fini(&sp);
        ASSERT_OK(st);
    }
    EXPECT_EQ(as.events, 3);
    EXPECT_EQ(as.blocks_stored, 2);
    EXPECT_EQ(as.blocks_removed, 1);
    EXPECT_EQ(as.skipped, 0);
    /* the snapshot batch with ts zeroed: the §4.3.4 vector at ts 0.0 */
    char want[sizeof CONS_EGRESS_HEX];
    memcpy(want, CONS_EGRESS_HEX, sizeof want);
    memcpy(want + 4, "0000000000000000", 16);
    EXPECT_TRUE(payload_is(eg, t, 0.0, want));
    /* the child stays live (vLLM was the only source of the root) */
    kvbm_cons_tracker_stats st;
    kvbm_cons_tracker_get_stats(t, &st);
    EXPECT_EQ(st.live_blocks, 1);
    kvbm_cons_egress_destroy(eg);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(e2e_full_vllm_replay) { replay(V); }
KVBM_TEST(e2e_full_trtllm_replay) { replay(T); }

KVBM_TEST(sync_sentinel)
{
    /* [0.0, [["AllBlocksCleared"]], nil]: vLLM's encoder writes the spec bytes ... */
    kvbm_vllm_event clr = {.type = KVBM_VLLM_ALL_BLOCKS_CLEARED};
    kvbm_vllm_batch b = {.ts = 0.0, .events = &clr, .n_events = 1, .has_dp_rank = false};
    uint8_t buf[64];
    size_t len = 0;
    ASSERT_OK(kvbm_vllm_batch_encode(&b, KVBM_VLLM_FORM_ARRAY, buf, sizeof buf, &len));
    char hex[130];
    cons_hex(buf, len, hex);
    EXPECT_TRUE(strcmp(hex, CONS_SENTINEL_HEX) == 0);
    /* ... which, fed to a consolidator, goes out as a ClearAll barrier with dp_rank 0 */
    cons_space sp;
    ASSERT_TRUE(cons_space_init(&sp, len));
    kvbm_vllm_batch in;
    kvbm_cons_tracker *t = mk();
    ASSERT_OK(cons_store4(t, V, 9, 0, 1, NULL));
    kvbm_status st = kvbm_vllm_batch_decode(buf, len, NULL, &in, &sp.sp);
    if (st == KVBM_OK) st = kvbm_cons_tracker_apply_vllm(t, V, &in, NULL);
    cons_space_fini(&sp);
    ASSERT_OK(st);
    kvbm_cons_events *ev = NULL;
    ASSERT_EQ(cons_drain(t, &ev), 2);
    ASSERT_OK(kvbm_cons_tracker_handle_kvbm_store(t, (kvbm_plh){0, 1}, NULL, 0, 0, NULL));
    kvbm_cons_egress *eg = NULL;
    ASSERT_OK(kvbm_cons_egress_create(&eg));
    const uint8_t *p;
    ASSERT_OK(kvbm_cons_egress_encode(eg, ev, 0.0, &p, &len, NULL));
    char out[256];
    cons_hex(p, len, out);
    EXPECT_TRUE(strstr(out, "91b0416c6c426c6f636b73436c6561726564" "00") != NULL); /* [AllBlocksCleared]], 0 */
    kvbm_cons_events_destroy(ev);
    kvbm_cons_egress_destroy(eg);
    kvbm_cons_tracker_destroy(t);
}

/* ---- output contract -------------------------------------------------------------- */

/* Drain @t through @eg at @ts and decode the payload into @out (pools in @sp; call
 * cons_space_fini afterwards in every case). */
static bool drain_decode(kvbm_cons_egress *eg, kvbm_cons_tracker *t, double ts, cons_space *sp, kvbm_vllm_batch *out)
{
    const uint8_t *p;
    size_t len = 0;
    memset(sp, 0, sizeof *sp);
    return kvbm_cons_egress_drain(eg, t, ts, &p, &len, NULL) == KVBM_OK && len > 0 && cons_space_init(sp, len) &&
           kvbm_vllm_batch_decode(p, len, NULL, out, &sp->sp) == KVBM_OK;
}

KVBM_TEST(sequence_counter_monotonic)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_egress *eg = NULL;
    ASSERT_OK(kvbm_cons_egress_create(&eg));
    const uint8_t *p;
    size_t len;
    uint64_t seq = 99, last = 0;
    for (uint64_t i = 0; i < 5; i++) {
        ASSERT_OK(cons_store4(t, V, 100 + i, 0, (uint32_t)(10 * i), NULL));
        ASSERT_OK(kvbm_cons_egress_drain(eg, t, -1.0, &p, &len, &seq));
        ASSERT_GT(len, 0);
        EXPECT_EQ(seq, i); /* from 0, +1 per batch */
        if (i > 0) EXPECT_GT(seq, last);
        last = seq;
        /* an empty tick sends nothing and consumes no number */
        seq = 77;
        ASSERT_OK(kvbm_cons_egress_drain(eg, t, -1.0, &p, &len, &seq));
        EXPECT_EQ(len, 0);
        EXPECT_EQ(seq, 77);
    }
    EXPECT_EQ(kvbm_cons_egress_next_seq(eg), 5);
    kvbm_cons_egress_stats es;
    kvbm_cons_egress_get_stats(eg, &es);
    EXPECT_EQ(es.batches, 5);
    EXPECT_EQ(es.events, 5);
    kvbm_cons_egress_destroy(eg);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(lora_name_passthrough)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_egress *eg = NULL;
    ASSERT_OK(kvbm_cons_egress_create(&eg));
    ASSERT_OK(cons_store4(t, V, 1, 0, 10, "adapter-x"));
    cons_space sp;
    kvbm_vllm_batch b;
    bool ok = drain_decode(eg, t, 5.0, &sp, &b);
    EXPECT_TRUE(ok);
    if (ok) {
        ASSERT_EQ(b.n_events, 1);
        const kvbm_vllm_event *e = &b.events[0];
        EXPECT_TRUE(e->lora_name != NULL && strcmp(e->lora_name, "adapter-x") == 0);
        EXPECT_FALSE(e->has_lora_id); /* index 5 is nil: Dynamo's positional decoder reads it */
        EXPECT_TRUE(e->medium == NULL);
        EXPECT_EQ(e->n_token_ids, 4);
        EXPECT_EQ(e->block_size, 4);
        EXPECT_EQ_U64(e->block_hashes[0], kvbm_plh_router_block_hash(cons_chain_plh(10, 1, "adapter-x")));
    }
    cons_space_fini(&sp);
    kvbm_cons_egress_destroy(eg);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(different_dp_ranks_collapse_to_zero)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_egress *eg = NULL;
    ASSERT_OK(kvbm_cons_egress_create(&eg));
    /* two engine batches from dp ranks 1 and 3 */
    for (uint32_t r = 1; r <= 3; r += 2) {
        uint64_t h = r;
        uint32_t tok[4] = {r, r, r, r};
        kvbm_vllm_event e = {.type = KVBM_VLLM_BLOCK_STORED, .block_hashes = &h, .n_block_hashes = 1,
                             .token_ids = tok, .n_token_ids = 4, .block_size = 4};
        kvbm_vllm_batch in = {.ts = 1.0, .events = &e, .n_events = 1, .has_dp_rank = true, .dp_rank = r};
        ASSERT_OK(kvbm_cons_tracker_apply_vllm(t, V, &in, NULL));
    }
    cons_space sp;
    kvbm_vllm_batch b;
    bool ok = drain_decode(eg, t, 2.0, &sp, &b);
    EXPECT_TRUE(ok);
    if (ok) {
        EXPECT_EQ(b.n_events, 2);
        EXPECT_TRUE(b.has_dp_rank);
        EXPECT_EQ(b.dp_rank, 0);
    }
    cons_space_fini(&sp);
    kvbm_cons_egress_destroy(eg);
    kvbm_cons_tracker_destroy(t);
}

/* ---- beyond the spec list ---------------------------------------------------------- */

KVBM_TEST(token_ids_above_int32_are_clamped)
{
    kvbm_cons_tracker *t = mk();
    kvbm_cons_egress *eg = NULL;
    ASSERT_OK(kvbm_cons_egress_create(&eg));
    uint32_t tok[2] = {UINT32_MAX, 7};
    ASSERT_OK(kvbm_cons_tracker_handle_store(t, V, 1, NULL, tok, 2, 2, NULL));
    cons_space sp;
    kvbm_vllm_batch b;
    bool ok = drain_decode(eg, t, 1.0, &sp, &b);
    EXPECT_TRUE(ok);
    if (ok) {
        EXPECT_EQ(b.events[0].token_ids[0], INT32_MAX);
        EXPECT_EQ(b.events[0].token_ids[1], 7);
    }
    cons_space_fini(&sp);
    kvbm_cons_egress_stats es;
    kvbm_cons_egress_get_stats(eg, &es);
    EXPECT_EQ(es.clamped_tokens, 1);
    kvbm_cons_egress_destroy(eg);
    kvbm_cons_tracker_destroy(t);
}

KVBM_TEST(ingress_skips_what_it_cannot_hash)
{
    kvbm_cons_tracker *t = mk();
    uint64_t h[2] = {1, 2};
    uint32_t tok[7] = {1, 2, 3, 4, 5, 6, 7};
    kvbm_router_mm_object mo = {.mm_hash = 5};
    kvbm_vllm_block_mm mm = {.objects = &mo, .n_objects = 1};
    kvbm_vllm_event ev[5] = {
        {.type = KVBM_VLLM_BLOCK_STORED, .block_hashes = h, .n_block_hashes = 2, .token_ids = tok, .n_token_ids = 7, .block_size = 0},
        {.type = KVBM_VLLM_BLOCK_STORED, .block_hashes = h, .n_block_hashes = 2, .token_ids = tok, .n_token_ids = 7, .block_size = 4, .is_eagle = true},
        {.type = KVBM_VLLM_BLOCK_STORED, .block_hashes = h, .n_block_hashes = 2, .token_ids = tok, .n_token_ids = 7, .block_size = 4, .block_mm = &mm, .n_block_mm = 1},
        {.type = KVBM_VLLM_BLOCK_STORED, .block_hashes = h, .n_block_hashes = 1, .token_ids = tok, .n_token_ids = 7, .block_size = 4},
        /* 2 chunks (4 + short 3) for 2 hashes: block 0 stored, block 1 rejected */
        {.type = KVBM_VLLM_BLOCK_STORED, .block_hashes = h, .n_block_hashes = 2, .token_ids = tok, .n_token_ids = 7, .block_size = 4},
    };
    kvbm_vllm_batch in = {.events = ev, .n_events = 5};
    kvbm_cons_apply_stats as = {0};
    ASSERT_OK(kvbm_cons_tracker_apply_vllm(t, V, &in, &as));
    EXPECT_EQ(as.skipped, 4);
    EXPECT_EQ(as.blocks_stored, 1);
    EXPECT_EQ(as.blocks_rejected, 1);
    EXPECT_TRUE(kvbm_cons_tracker_lookup_external(t, V, 1, NULL));
    EXPECT_FALSE(kvbm_cons_tracker_lookup_external(t, V, 2, NULL));
    EXPECT_STATUS(kvbm_cons_tracker_apply_vllm(t, KVBM_CONS_SOURCE_KVBM, &in, NULL), KVBM_EINVAL);
    kvbm_cons_tracker_destroy(t);
}
