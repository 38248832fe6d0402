/* tests/tools/test_cli.c - the built `kvbm` binary: exit statuses, messages, formats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#ifndef KVBM_TOOL_PATH
#  error "KVBM_TOOL_PATH must name the built kvbm binary"
#endif

static char out_buf[1 << 16];

/* Run "kvbm ARGS" through sh; stdout+stderr into out_buf; returns the exit status
 * (128 + signal number for a crash). */
static int kvbm(const char *args)
{
    char tmp[] = "/tmp/kvbm_cli_out_XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) return -1;
    close(fd);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>&1 </dev/null", KVBM_TOOL_PATH, args, tmp);
    int st = system(cmd);
    FILE *f = fopen(tmp, "r");
    size_t n = f ? fread(out_buf, 1, sizeof out_buf - 1, f) : 0;
    out_buf[n] = '\0';
    if (f) fclose(f);
    remove(tmp);
    if (st == -1) return -1;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Write @text to a fresh temp file; returns its path in @path (>= 32 bytes). */
static void write_tmp(char *path, const char *text)
{
    strcpy(path, "/tmp/kvbm_cli_trace_XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f) { fputs(text, f); fclose(f); }
}

static const char T1[] =
    "{\"timestamp\": 0, \"hash_ids\": [1, 2, 3]}\n{\"hash_ids\": [4, 5]}\n{\"hash_ids\": [1, 2, 3]}\n"
    "{\"hash_ids\": [6, 7, 8, 9, 10]}\n{\"hash_ids\": [1, 2, 3]}\n{\"hash_ids\": [4, 5, 6]}\n"
    "{\"hash_ids\": [1, 2, 3, 11, 12]}\n";

KVBM_TEST(version_and_help)
{
    EXPECT_EQ(kvbm("--version"), 0);
    EXPECT_STR_CONTAINS(out_buf, "kvbm 0.");
    EXPECT_EQ(kvbm("help"), 0);
    EXPECT_STR_CONTAINS(out_buf, "replay");
    EXPECT_EQ(kvbm("help replay"), 0);
    EXPECT_STR_CONTAINS(out_buf, "--release-order");
    EXPECT_EQ(kvbm("replay --help"), 0);
    EXPECT_EQ(kvbm("help hash"), 0);
    EXPECT_EQ(kvbm("help nothing"), 2);
    EXPECT_EQ(kvbm(""), 2);
    EXPECT_EQ(kvbm("frobnicate"), 2);
    EXPECT_STR_CONTAINS(out_buf, "unknown command 'frobnicate'");
}

KVBM_TEST(default_run_is_the_synthetic_workload)
{
    EXPECT_EQ(kvbm("replay"), 0);
    EXPECT_STR_CONTAINS(out_buf, "synthetic(seed=42");
    EXPECT_STR_CONTAINS(out_buf, "lineage-fifo");
    EXPECT_STR_CONTAINS(out_buf, "multi-lru");
    EXPECT_STR_CONTAINS(out_buf, "pool check: OK");
    char first[sizeof out_buf];
    EXPECT_EQ(kvbm("replay --backend lru --format csv --seed 7 --requests 500"), 0);
    strcpy(first, out_buf);
    EXPECT_EQ(kvbm("replay --backend lru --format csv --seed 7 --requests 500"), 0);
    /* the timing columns differ between runs; the counts up to hash_ms must not */
    char *a = strstr(first, ",hash_ms") ? strchr(first, '\n') : NULL;
    ASSERT_TRUE(a != NULL);
    size_t cut = 0;
    for (int commas = 0; a[cut] && commas < 18; cut++) commas += a[cut] == ',';
    EXPECT_TRUE(strncmp(first, out_buf, (size_t)(a - first) + cut) == 0);
}

KVBM_TEST(missing_and_unreadable_files)
{
    EXPECT_EQ(kvbm("replay /nonexistent/dir/trace.jsonl"), 1);
    EXPECT_STR_CONTAINS(out_buf, "kvbm: cannot open trace '/nonexistent/dir/trace.jsonl'");
    EXPECT_EQ(kvbm("replay /"), 1);
    EXPECT_STR_CONTAINS(out_buf, "kvbm: ");
    EXPECT_EQ(kvbm("replay a.jsonl b.jsonl"), 2);
}

KVBM_TEST(malformed_lines_stop_or_skip)
{
    char p[64], cmd[256];
    write_tmp(p, "{\"hash_ids\": [1, 2]}\n{\"hash_ids\": [1, 2\n{\"hash_ids\": [3]}\n");
    snprintf(cmd, sizeof cmd, "replay %s", p);
    EXPECT_EQ(kvbm(cmd), 1);
    char want[96];
    snprintf(want, sizeof want, "%s:2: malformed JSON", p);
    EXPECT_STR_CONTAINS(out_buf, want);
    snprintf(cmd, sizeof cmd, "replay %s --on-error skip --backend lru --capacity 8", p);
    EXPECT_EQ(kvbm(cmd), 0);
    EXPECT_STR_CONTAINS(out_buf, "(line skipped)");
    EXPECT_STR_CONTAINS(out_buf, "1 malformed line skipped");
    snprintf(cmd, sizeof cmd, "replay %s --on-error maybe", p);
    EXPECT_EQ(kvbm(cmd), 2);
    remove(p);
}

KVBM_TEST(bad_ids_and_empty_traces)
{
    static const struct { const char *text, *msg; } cases[] = {
        { "{\"hash_ids\": [1, -2]}\n", ":1: hash_ids[1] = -2 is negative" },
        { "{\"hash_ids\": [1.0]}\n", "is not a non-negative integer" },
        { "{\"hash_ids\": [\"a\"]}\n", "is not a non-negative integer" },
        { "{\"hash_ids\": [5000000000]}\n", "out of range" },
        { "{\"timestamp\": 3}\n", "missing \"hash_ids\"" },
        { "", "trace is empty" },
        { "\n\n", "trace is empty" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char p[64], cmd[128];
        write_tmp(p, cases[i].text);
        snprintf(cmd, sizeof cmd, "replay %s", p);
        EXPECT_EQ(kvbm(cmd), 1);
        EXPECT_STR_CONTAINS(out_buf, cases[i].msg);
        remove(p);
    }
}

KVBM_TEST(bad_options)
{
    EXPECT_EQ(kvbm("replay --capacity 0"), 2);
    EXPECT_STR_CONTAINS(out_buf, "--capacity 0 is out of range (1..67108864)");
    EXPECT_EQ(kvbm("replay --capacity 99999999999999999999999"), 2); /* overflows 64 bits */
    EXPECT_STR_CONTAINS(out_buf, "is out of range");
    EXPECT_EQ(kvbm("replay --capacity 12x"), 2);
    EXPECT_STR_CONTAINS(out_buf, "--capacity needs a number, got '12x'");
    EXPECT_EQ(kvbm("replay --capacity -5"), 2);
    EXPECT_EQ(kvbm("replay --capacity lots"), 2);
    EXPECT_EQ(kvbm("replay --capacity"), 2);
    EXPECT_EQ(kvbm("replay --capacity 99999999999"), 2);
    EXPECT_EQ(kvbm("replay --backend fifo"), 2);
    EXPECT_STR_CONTAINS(out_buf, "unknown backend \"fifo\" (valid: lineage, lineage-fifo");
    EXPECT_EQ(kvbm("replay --backend lineage_fifo --capacity 512"), 0); /* old spelling */
    EXPECT_STR_CONTAINS(out_buf, "lineage-fifo");
    EXPECT_EQ(kvbm("replay --block-size 3"), 2);
    EXPECT_EQ(kvbm("replay --block-size 2048"), 2);
    EXPECT_EQ(kvbm("replay --release-order sideways"), 2);
    EXPECT_EQ(kvbm("replay --format xml"), 2);
    EXPECT_EQ(kvbm("replay --repeat 0"), 2);
    EXPECT_EQ(kvbm("replay --sweep 0,16"), 2);
    EXPECT_EQ(kvbm("replay --sweep 64..8"), 2);
    EXPECT_EQ(kvbm("replay --frobnicate"), 2);
    EXPECT_STR_CONTAINS(out_buf, "unknown option '--frobnicate'");
}

KVBM_TEST(json_has_every_key)
{
    char p[64], cmd[160];
    write_tmp(p, T1);
    snprintf(cmd, sizeof cmd, "replay %s --backend lru --capacity 4 --format json", p);
    EXPECT_EQ(kvbm(cmd), 0);
    static const char *keys[] = { "\"trace\":", "\"backend\":\"lru\"", "\"capacity\":4,",
        "\"requests\":7,", "\"blocks_requested\":24,", "\"blocks_hit\":7,", "\"hit_rate\":",
        "\"no_room_requests\":2,", "\"no_room_blocks\":9,", "\"evictions\":4,",
        "\"allocations\":8,", "\"allocations_from_reset\":4,", "\"registrations\":8,",
        "\"duplicate_blocks\":0,", "\"hash_ms\":", "\"manager_ms\":", "\"blocks_per_s\":" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) EXPECT_STR_CONTAINS(out_buf, keys[i]);
    /* one object per run: --backend all gives five lines */
    snprintf(cmd, sizeof cmd, "replay %s --capacity 4 --format json", p);
    EXPECT_EQ(kvbm(cmd), 0);
    size_t lines = 0;
    for (const char *c = out_buf; *c; c++) lines += *c == '\n';
    EXPECT_EQ(lines, 5);
    /* stdin */
    snprintf(cmd, sizeof cmd, "replay - --backend lineage --capacity 4 --format csv < %s", p);
    char full[256];
    snprintf(full, sizeof full, "sh -c '%s %s' > /dev/null 2>&1", KVBM_TOOL_PATH, cmd);
    EXPECT_EQ(system(full), 0);
    remove(p);
}

KVBM_TEST(tracker_and_breakdown_options)
{
    char p[64], cmd[192];
    write_tmp(p, T1);
    snprintf(cmd, sizeof cmd, "replay %s --capacity 4 --tracker none --format csv", p);
    EXPECT_EQ(kvbm(cmd), 0);
    EXPECT_STR_CONTAINS(out_buf, "multi-lru skipped");
    EXPECT_STR_CONTAINS(out_buf, ",lru,4,4,reverse,1,7,24,7,");
    snprintf(cmd, sizeof cmd, "replay %s --capacity 4 --tracker none --backend multi-lru", p);
    EXPECT_EQ(kvbm(cmd), 2); /* a configuration error is a usage error */
    EXPECT_STR_CONTAINS(out_buf, "multi-lru needs a frequency tracker");
    EXPECT_TRUE(strstr(out_buf, "see kvbm_last_error()") == NULL);
    snprintf(cmd, sizeof cmd, "replay %s --capacity 4 --backend lineage --breakdown --format json", p);
    EXPECT_EQ(kvbm(cmd), 0);
    EXPECT_STR_CONTAINS(out_buf, "\"match_ms\":");
    EXPECT_STR_CONTAINS(out_buf, "\"release_ms\":");
    EXPECT_STR_CONTAINS(out_buf, "\"tracker\":\"medium\"");
    snprintf(cmd, sizeof cmd, "replay %s --capacity 4 --tracker huge", p);
    EXPECT_EQ(kvbm(cmd), 2);
    remove(p);
}

KVBM_TEST(bench_csv)
{
    int rc = kvbm("bench --format csv --quick --groups alloc_register_cycle --backends lru --sizes 8");
    EXPECT_EQ(rc, 0);
    EXPECT_TRUE(strncmp(out_buf, "group,backend,n,median_ns\n", 26) == 0);
    EXPECT_STR_CONTAINS(out_buf, "alloc_register_cycle,lru,8,");
    EXPECT_EQ(kvbm("bench --format xml"), 2);
    EXPECT_EQ(kvbm("bench --backends nope"), 2);
    EXPECT_EQ(kvbm("bench --samples 0"), 2);
    EXPECT_STR_CONTAINS(out_buf, "--samples 0 is out of range (1..100000)");
    /* old backend spellings are aliases; a failing cell's message follows the table
     * (stdout is flushed before anything goes to stderr) */
    rc = kvbm("bench --quick --groups bulk_drop --backends multi_lru --tracker never --sizes 8");
    EXPECT_EQ(rc, 1);
    const char *table_end = strstr(out_buf, "reference: "), *msg = strstr(out_buf, "kvbm: bench: bulk_drop multi-lru");
    ASSERT_TRUE(table_end != NULL && msg != NULL);
    EXPECT_TRUE(msg > table_end);
}

KVBM_TEST(sweep_writes_csv_and_svg)
{
    char p[64], cmd[256], prefix[80];
    write_tmp(p, T1);
    snprintf(prefix, sizeof prefix, "%s_mrc", p);
    snprintf(cmd, sizeof cmd, "replay %s --sweep 2,4,64 --out %s --format csv", p, prefix);
    EXPECT_EQ(kvbm(cmd), 0);
    char csv[96], svg[96];
    snprintf(csv, sizeof csv, "%s.csv", prefix);
    snprintf(svg, sizeof svg, "%s.svg", prefix);
    FILE *f = fopen(csv, "r");
    ASSERT_TRUE(f != NULL);
    char line[1024];
    int rows = 0;
    while (fgets(line, sizeof line, f)) rows++;
    fclose(f);
    EXPECT_EQ(rows, 1 + 5 * 3);
    f = fopen(svg, "r");
    ASSERT_TRUE(f != NULL);
    static char body[1 << 16];
    size_t n = fread(body, 1, sizeof body - 1, f);
    body[n] = '\0';
    fclose(f);
    EXPECT_STR_CONTAINS(body, "<svg");
    EXPECT_STR_CONTAINS(body, "</svg>");
    EXPECT_STR_CONTAINS(body, "multi-lru");
    EXPECT_STR_CONTAINS(body, "infinite cache");
    remove(csv);
    remove(svg);
    /* an unwritable --out is a usage error found before the sweep runs (no table printed) */
    snprintf(cmd, sizeof cmd, "replay %s --sweep 2,4 --out /nonexistent/dir/x --format csv", p);
    EXPECT_EQ(kvbm(cmd), 2);
    EXPECT_STR_CONTAINS(out_buf, "cannot write '/nonexistent/dir/x.csv'");
    EXPECT_TRUE(strstr(out_buf, "trace,backend") == NULL);
    snprintf(cmd, sizeof cmd, "replay %s --out %s", p, prefix);
    EXPECT_EQ(kvbm(cmd), 2);
    EXPECT_STR_CONTAINS(out_buf, "--out needs --sweep");
    /* without --out a sweep writes no file (the current directory stays clean) */
    char dir[] = "/tmp/kvbm_cli_cwd_XXXXXX", full[512];
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    snprintf(full, sizeof full, "cd %s && %s replay %s --sweep 2,4 --format csv >/dev/null 2>&1 && ls -A | wc -l | "
             "grep -qx 0", dir, KVBM_TOOL_PATH, p);
    EXPECT_EQ(system(full), 0);
    EXPECT_EQ(rmdir(dir), 0);
    remove(p);
}

KVBM_TEST(hash_command_vectors)
{
    /* spec 20 §1.10.1: salt 1337, block size 4, tokens 1..12 */
    EXPECT_EQ(kvbm("hash --block-size 4 --salt 1337 1 2 3 4 5 6 7 8 9 10 11 12 13"), 0);
    EXPECT_STR_CONTAINS(out_buf,
        "0 14643705804678351452 14643705804678351452 0000000000000000cb38e4d7fb2dca5c\n");
    EXPECT_STR_CONTAINS(out_buf,
        "1 16777012769546811212 4945711292740353085 0078e4d7fb2dca5c44a2b2379d6d3c3d\n");
    EXPECT_STR_CONTAINS(out_buf,
        "2 483935686894639516 12583592247330656132 00a2b2379d6d3c3daea1e67a6c80cf84\n");
    EXPECT_STR_CONTAINS(out_buf, "1 trailing token does not fill a block");
    /* salt 0: block hash of [1,2,3,4] (spec 20 §1.10.1, last paragraph) */
    EXPECT_EQ(kvbm("hash --block-size=4 1 2 3 4"), 0);
    EXPECT_STR_CONTAINS(out_buf, "0 8052976908588476977 8052976908588476977 ");
    EXPECT_EQ(kvbm("hash --block-size 4 1 2 x"), 2);
    EXPECT_EQ(kvbm("hash --block-size 4 1 2 -3"), 2);
    EXPECT_EQ(kvbm("hash --block-size 4 4294967296"), 2);
    EXPECT_EQ(kvbm("hash --block-size 6 1"), 2);
    EXPECT_EQ(kvbm("hash --salt -1 1"), 2);
}
