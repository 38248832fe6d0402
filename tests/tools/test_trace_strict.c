/* tests/tools/test_trace_strict.c - issue 15 defect 7: the trace reader and `kvbm hash`
 * reject what json-c (or a C string) would accept or alter silently, and say what is wrong. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "commands.h"
#include "trace.h"

static void expect_error(const char *txt, size_t len, const char *needle)
{
    cli_trace t;
    char err[256] = "";
    EXPECT_EQ(cli_trace_parse("x.jsonl", txt, len, CLI_TRACE_STOP, NULL, &t, err, sizeof err), -1);
    if (strstr(err, needle) == NULL)
        kvbm_test_fail(__FILE__, __LINE__, "for %s: expected '%s' in '%s'", txt, needle, err);
}
#define EXPECT_TRACE_ERROR(lit, needle) expect_error((lit), sizeof(lit) - 1, (needle))

KVBM_TEST(out_of_range_numbers_are_reported_with_their_text)
{
    EXPECT_TRACE_ERROR("{\"hash_ids\": [18446744073709551616]}", "18446744073709551616 is out of range");
    EXPECT_TRACE_ERROR("{\"hash_ids\": [99999999999999999999999]}", "99999999999999999999999 is out of range");
    EXPECT_TRACE_ERROR("{\"t\": -9223372036854775809, \"hash_ids\": [1]}", "-9223372036854775809 is out of range");
    EXPECT_TRACE_ERROR("{\"hash_ids\": [18446744073709551615]}", "18446744073709551615 is out of range (ids are");
    EXPECT_TRACE_ERROR("{\"hash_ids\": [4294967296]}", "4294967296 is out of range");
}

KVBM_TEST(non_object_lines_say_expected_a_json_object)
{
    EXPECT_TRACE_ERROR("null", "expected a JSON object, got null");
    EXPECT_TRACE_ERROR("123", "expected a JSON object, got number");
    EXPECT_TRACE_ERROR("true", "expected a JSON object, got boolean");
    EXPECT_TRACE_ERROR("\"s\"", "expected a JSON object, got string");
    EXPECT_TRACE_ERROR("[1]", "expected a JSON object, got array");
    EXPECT_TRACE_ERROR("{\"hash_ids\": [1]", "unexpected end of line"); /* a real unfinished object */
}

KVBM_TEST(single_quotes_and_nul_escapes_are_rejected)
{
    EXPECT_TRACE_ERROR("{'hash_ids': [1]}", "single quotes");
    EXPECT_TRACE_ERROR("{\"hash_ids\": ['1']}", "single quotes");
    EXPECT_TRACE_ERROR("{\"hash_ids\\u0000\": [1]}", "\\u0000");
    /* quotes and escapes inside strings are fine */
    cli_trace t;
    char err[256] = "";
    const char ok[] = "{\"note\": \"it's \\\"x\\\" 12345678901234567890123\", \"hash_ids\": [1, 2]}";
    ASSERT_OK(cli_trace_parse("x.jsonl", ok, sizeof ok - 1, CLI_TRACE_STOP, NULL, &t, err, sizeof err));
    EXPECT_EQ(t.n_requests, 1);
    cli_trace_free(&t);
}

KVBM_TEST(hash_token_input_rejects_nul_bytes)
{
    uint32_t *tok = NULL;
    size_t n = 0, cap = 0;
    char err[256] = "";
    const char in[] = "2\0" "3";
    EXPECT_EQ(cli_hash_parse_tokens(in, sizeof in - 1, &tok, &n, &cap, err, sizeof err), -1);
    EXPECT_TRUE(strstr(err, "NUL") != NULL);
    n = 0;
    const char good[] = " 1, 2\n3\t4294967295 ";
    EXPECT_EQ(cli_hash_parse_tokens(good, sizeof good - 1, &tok, &n, &cap, err, sizeof err), 0);
    ASSERT_EQ(n, 4);
    EXPECT_EQ_U64(tok[3], 4294967295u);
    free(tok);
}
