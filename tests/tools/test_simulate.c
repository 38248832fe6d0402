/* tests/tools/test_simulate.c - `kvbm simulate` (issue 19 item 9): the engine on the
 * synthetic workload and on Mooncake lines, and the binary's exit statuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "simulate.h"

#ifndef KVBM_TOOL_PATH
#  error "KVBM_TOOL_PATH must name the built kvbm binary"
#endif

static int run_quiet(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>&1 </dev/null", KVBM_TOOL_PATH, args);
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

KVBM_TEST(simulate_synthetic_finishes_everything_and_is_deterministic)
{
    cli_sim_workload w;
    char err[256];
    ASSERT_EQ(cli_sim_synthetic(7, 60, &w, err, sizeof err), 0);
    cli_sim_config c = CLI_SIM_CONFIG_INIT;
    c.capacity = 300; /* too small for 8 running prompts of up to 192 blocks: preemptions */
    c.max_running = 8;
    cli_sim_result a, b;
    ASSERT_EQ(cli_sim_run(&w, &c, &a, err, sizeof err), 0);
    ASSERT_EQ(cli_sim_run(&w, &c, &b, err, sizeof err), 0);
    EXPECT_EQ(a.finished + a.rejected, 60);
    EXPECT_EQ(a.rejected, 0);
    EXPECT_GT(a.preemptions, 0);
    EXPECT_EQ(a.resumed, a.preemptions); /* every preempted request came back */
    EXPECT_LE(a.peak_blocks_in_use, 300);
    EXPECT_GT(a.cached_tokens, 0); /* shared system prompts hit */
    size_t out = 0, in = 0;
    for (size_t i = 0; i < w.n; i++) {
        out += w.req[i].output_len;
        in += w.req[i].input_len;
    }
    EXPECT_EQ(a.decode_tokens, out); /* every request decoded to its output length */
    EXPECT_EQ(a.prompt_tokens, in);
    EXPECT_EQ(a.steps, b.steps);
    EXPECT_EQ(a.preemptions, b.preemptions);
    EXPECT_EQ(a.cached_tokens, b.cached_tokens);
    cli_sim_workload_free(&w);
}

KVBM_TEST(simulate_mooncake_lines_prefix_hits_and_rejection)
{
    static const char trace[] =
        "{\"input_length\": 40, \"output_length\": 5, \"hash_ids\": [1, 2, 3]}\n"
        "\n"
        "{\"timestamp\": 9, \"input_length\": 40, \"output_length\": 0, \"hash_ids\": [1, 2, 3]}\n"
        "{\"input_length\": 4000, \"output_length\": 10, \"hash_ids\": [9]}\n";
    cli_sim_workload w;
    char err[256];
    ASSERT_EQ(cli_sim_parse("t.jsonl", trace, sizeof trace - 1, &w, err, sizeof err), 0);
    ASSERT_EQ(w.n, 3);
    EXPECT_EQ(w.req[1].output_len, 0);
    cli_sim_config c = CLI_SIM_CONFIG_INIT;
    c.capacity = 64;
    c.block_size = 4;
    c.id_block_tokens = 16; /* ids 1,2,3 cover 48 tokens: both prompts are identical */
    c.max_running = 1;      /* sequential: the second request finds the first one's blocks */
    cli_sim_result r;
    ASSERT_EQ(cli_sim_run(&w, &c, &r, err, sizeof err), 0);
    EXPECT_EQ(r.finished, 2);
    EXPECT_EQ(r.rejected, 1); /* 4010 tokens never fit 64 blocks of 4 */
    EXPECT_EQ(r.cached_tokens, 40);
    EXPECT_EQ(r.prefill_tokens, 40);
    EXPECT_EQ(r.decode_tokens, 5);
    cli_sim_workload_free(&w);
    EXPECT_EQ(cli_sim_parse("bad", "{\"hash_ids\": [1]}\n", 18, &w, err, sizeof err), -1);
    EXPECT_TRUE(strstr(err, "bad:1:") != NULL && strstr(err, "input_length") != NULL);
    EXPECT_EQ(cli_sim_parse("empty", "\n\n", 2, &w, err, sizeof err), -1);
}

KVBM_TEST(simulate_binary_statuses)
{
    EXPECT_EQ(run_quiet("simulate --requests 20 --capacity 400"), 0);
    EXPECT_EQ(run_quiet("simulate --requests 5 --format json"), 0);
    EXPECT_EQ(run_quiet("help simulate"), 0);
    EXPECT_EQ(run_quiet("simulate --block-size 3"), 2);
    EXPECT_EQ(run_quiet("simulate --capacity 0"), 2);
    EXPECT_EQ(run_quiet("simulate --bogus"), 2);
    EXPECT_EQ(run_quiet("simulate /nonexistent/trace.jsonl"), 1);
}
