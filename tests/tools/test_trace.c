/* tests/tools/test_trace.c - Mooncake trace reader, synthetic workload, capacity lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "synth.h"
#include "trace.h"
#include "util.h"

static int parse(const char *txt, cli_trace_on_error oe, cli_trace *t, char *err, size_t len)
{
    return cli_trace_parse("x.jsonl", txt, strlen(txt), oe, NULL, t, err, len);
}

KVBM_TEST(parses_mooncake_lines)
{
    cli_trace t;
    char err[256];
    const char *txt =
        "{\"timestamp\": 0, \"input_length\": 6758, \"output_length\": 500, \"hash_ids\": [0, 1, 2]}\r\n"
        "   \n"
        "{\"hash_ids\": []}\n"
        "{\"hash_ids\": [4294967295, 0]}"; /* no trailing newline */
    ASSERT_OK(parse(txt, CLI_TRACE_STOP, &t, err, sizeof err));
    EXPECT_EQ(t.n_requests, 3);
    EXPECT_EQ(cli_trace_blocks(&t), 5);
    EXPECT_EQ(t.max_len, 3);
    EXPECT_EQ(t.offsets[1], 3);
    EXPECT_EQ(t.offsets[2], 3);
    EXPECT_EQ_U64(t.ids[3], 4294967295u);
    cli_trace_free(&t);
}

static void expect_error(const char *txt, const char *needle)
{
    cli_trace t;
    char err[256] = "";
    EXPECT_EQ(parse(txt, CLI_TRACE_STOP, &t, err, sizeof err), -1);
    EXPECT_STR_CONTAINS(err, needle);
    EXPECT_TRUE(t.offsets == NULL); /* freed on error */
}

KVBM_TEST(malformed_lines_report_file_and_line)
{
    expect_error("{\"hash_ids\": [1]}\n{\"hash_ids\": [1,}\n", "x.jsonl:2: malformed JSON");
    expect_error("{\"hash_ids\": [1]}\n\n{\"hash_ids\": [-3]}\n", "x.jsonl:3: hash_ids[0] = -3 is negative");
    expect_error("{\"hash_ids\": [1.5]}\n", "x.jsonl:1: hash_ids[0] is not a non-negative integer");
    expect_error("{\"hash_ids\": [\"7\"]}\n", "not a non-negative integer");
    expect_error("{\"hash_ids\": [1, null]}\n", "hash_ids[1] is not a non-negative integer");
    expect_error("{\"hash_ids\": [4294967296]}\n", "out of range");
    expect_error("{\"hash_ids\": [18446744073709551615]}\n", "out of range");
    expect_error("{\"hash_ids\": [99999999999999999999999]}\n", "x.jsonl:1:");
    expect_error("{\"input_length\": 5}\n", "missing \"hash_ids\"");
    expect_error("{\"hash_ids\": 5}\n", "must be an array");
    expect_error("[1, 2]\n", "expected a JSON object");
    expect_error("{\"hash_ids\": [1]} trailing\n", "x.jsonl:1: malformed JSON");
    expect_error("{\"hash_ids\": [1]", "x.jsonl:1: malformed JSON");
    expect_error("", "trace is empty");
    expect_error("\n  \n", "trace is empty");
}

KVBM_TEST(skip_mode_continues_and_counts)
{
    cli_trace t;
    char err[256];
    const char *txt = "{\"hash_ids\": [1]}\nnot json\n{\"hash_ids\": [-1]}\n{\"hash_ids\": [2, 3]}\n";
    FILE *diag = tmpfile();
    ASSERT_TRUE(diag != NULL);
    ASSERT_OK(cli_trace_parse("y.jsonl", txt, strlen(txt), CLI_TRACE_SKIP, diag, &t, err, sizeof err));
    EXPECT_EQ(t.n_requests, 2);
    EXPECT_EQ(t.skipped, 2);
    char buf[512] = "";
    rewind(diag);
    size_t got = fread(buf, 1, sizeof buf - 1, diag);
    buf[got] = '\0';
    EXPECT_STR_CONTAINS(buf, "y.jsonl:2:");
    EXPECT_STR_CONTAINS(buf, "y.jsonl:3:");
    fclose(diag);
    cli_trace_free(&t);
    /* all lines bad: still an empty-trace error */
    EXPECT_EQ(parse("nope\n", CLI_TRACE_SKIP, &t, err, sizeof err), -1);
    EXPECT_STR_CONTAINS(err, "every line was malformed");
}

KVBM_TEST(load_missing_file)
{
    cli_trace t;
    char err[256] = "";
    EXPECT_EQ(cli_trace_load("/nonexistent/kvbm/trace.jsonl", CLI_TRACE_STOP, NULL, &t, err, sizeof err), -1);
    EXPECT_STR_CONTAINS(err, "cannot open trace '/nonexistent/kvbm/trace.jsonl'");
    EXPECT_EQ(cli_trace_load("/", CLI_TRACE_STOP, NULL, &t, err, sizeof err), -1);
    EXPECT_STR_CONTAINS(err, "'/'");
}

KVBM_TEST(load_file_roundtrip)
{
    char path[] = "/tmp/cli_trace_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    FILE *f = fdopen(fd, "w");
    ASSERT_TRUE(f != NULL);
    for (int i = 0; i < 1000; i++) fprintf(f, "{\"hash_ids\": [%d, %d]}\n", i % 7, i);
    fclose(f);
    cli_trace t;
    char err[256];
    int rc = cli_trace_load(path, CLI_TRACE_STOP, NULL, &t, err, sizeof err);
    remove(path);
    ASSERT_OK(rc);
    EXPECT_EQ(t.n_requests, 1000);
    EXPECT_EQ(t.ids[2 * 999 + 1], 999);
    EXPECT_STR_EQ(t.name, path);
    cli_trace_free(&t);
}

KVBM_TEST(synthetic_is_deterministic_per_seed)
{
    cli_synth_config a = CLI_SYNTH_CONFIG_INIT, b = CLI_SYNTH_CONFIG_INIT;
    cli_trace x, y, z;
    char err[256];
    ASSERT_OK(cli_synth_generate(&a, &x, err, sizeof err));
    ASSERT_OK(cli_synth_generate(&b, &y, err, sizeof err));
    b.seed = 43;
    ASSERT_OK(cli_synth_generate(&b, &z, err, sizeof err));
    EXPECT_EQ(x.n_requests, 4000);
    EXPECT_EQ(x.n_requests, y.n_requests);
    EXPECT_EQ(cli_trace_blocks(&x), cli_trace_blocks(&y));
    EXPECT_TRUE(memcmp(x.offsets, y.offsets, (x.n_requests + 1) * sizeof *x.offsets) == 0);
    EXPECT_TRUE(memcmp(x.ids, y.ids, cli_trace_blocks(&x) * sizeof *x.ids) == 0);
    EXPECT_STR_EQ(x.name, y.name);
    EXPECT_TRUE(cli_trace_blocks(&x) != cli_trace_blocks(&z) ||
                memcmp(x.ids, z.ids, cli_trace_blocks(&x) * sizeof *x.ids) != 0);
    /* workload shape: multi-turn extension exists (some request extends an earlier one) */
    size_t extends = 0;
    for (size_t r = 1; r < x.n_requests && r < 500; r++) {
        size_t n = x.offsets[r + 1] - x.offsets[r];
        for (size_t q = r > 50 ? r - 50 : 0; q < r; q++) {
            size_t m = x.offsets[q + 1] - x.offsets[q];
            if (m < n && memcmp(x.ids + x.offsets[q], x.ids + x.offsets[r], m * sizeof *x.ids) == 0) {
                extends++;
                break;
            }
        }
    }
    EXPECT_TRUE(extends > 50);
    cli_trace_free(&x);
    cli_trace_free(&y);
    cli_trace_free(&z);
}

KVBM_TEST(capacity_lists)
{
    uint64_t *v = NULL;
    size_t n = 0;
    char err[256];
    ASSERT_OK(cli_parse_capacity_list("4096,16,16,1024", 1u << 30, &v, &n, err, sizeof err));
    ASSERT_EQ(n, 3);
    EXPECT_EQ(v[0], 16); EXPECT_EQ(v[1], 1024); EXPECT_EQ(v[2], 4096);
    free(v);
    ASSERT_OK(cli_parse_capacity_list("1024..10000", 1u << 30, &v, &n, err, sizeof err));
    ASSERT_EQ(n, 5); /* 1024 2048 4096 8192 10000 */
    EXPECT_EQ(v[4], 10000);
    free(v);
    ASSERT_OK(cli_parse_capacity_list("100..500:100", 1u << 30, &v, &n, err, sizeof err));
    ASSERT_EQ(n, 5);
    EXPECT_EQ(v[4], 500);
    free(v);
    EXPECT_EQ(cli_parse_capacity_list("0,5", 100, &v, &n, err, sizeof err), -1);
    EXPECT_EQ(cli_parse_capacity_list("5..2", 100, &v, &n, err, sizeof err), -1);
    EXPECT_EQ(cli_parse_capacity_list("1..100000:1", 1u << 30, &v, &n, err, sizeof err), -1);
    EXPECT_EQ(cli_parse_capacity_list("x", 100, &v, &n, err, sizeof err), -1);
    EXPECT_EQ(cli_parse_capacity_list("1,", 100, &v, &n, err, sizeof err), -1);
    uint64_t u;
    EXPECT_EQ(cli_parse_u64("18446744073709551616", UINT64_MAX, &u), -1);
    EXPECT_EQ(cli_parse_u64("-1", UINT64_MAX, &u), -1);
    EXPECT_EQ(cli_parse_u64("12a", UINT64_MAX, &u), -1);
    ASSERT_OK(cli_parse_u64("18446744073709551615", UINT64_MAX, &u));
    EXPECT_EQ_U64(u, UINT64_MAX);
}

/* Seeded byte mutations of valid lines: the reader must never crash or leak (run under
 * ASan), and every failure must name FILE:LINE or say the trace is empty. */
KVBM_TEST(mutated_input_never_crashes)
{
    uint64_t seed = test_seed();
    printf("    seed=%" PRIu64 " (KVBM_TEST_SEED to replay)\n", seed);
    uint64_t s = seed;
    static const char base[] =
        "{\"timestamp\": 27, \"input_length\": 1800, \"hash_ids\": [0, 14, 15, 4294967295]}\n"
        "{\"hash_ids\": [1, 2, 3], \"output_length\": 5}\n";
    static const char alphabet[] = "{}[]\",:-0123456789eE. \n\tnulltruefalse\\\x01\xff";
    char buf[sizeof base];
    int iters = test_under_sanitizer() ? 3000 : 20000;
    for (int it = 0; it < iters; it++) {
        memcpy(buf, base, sizeof base);
        size_t len = sizeof base - 1;
        int muts = 1 + (int)((s >> 7) % 4);
        for (int m = 0; m < muts; m++) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            size_t pos = (size_t)(s >> 33) % len;
            buf[pos] = alphabet[(s >> 17) % (sizeof alphabet - 1)];
        }
        if ((s >> 40) % 5 == 0) len = (size_t)(s >> 20) % len; /* truncate */
        cli_trace t;
        char err[256] = "";
        for (int mode = 0; mode < 2; mode++) {
            int rc = cli_trace_parse("x.jsonl", buf, len, (cli_trace_on_error)mode, NULL, &t,
                                      err, sizeof err);
            if (rc == 0) {
                EXPECT_TRUE(t.n_requests >= 1 && t.n_requests <= 2);
                cli_trace_free(&t);
            } else if (strncmp(err, "x.jsonl:", 8) != 0) {
                EXPECT_STR_CONTAINS(err, "trace is empty");
            }
        }
    }
}
