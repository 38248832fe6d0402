/* tests/tools/test_cli_docs.c - the option tables of the kvbm tool (tools/kvbm/options.h)
 * against the man page (docs/kvbm.1, section ".SH <CMD> OPTIONS") and docs/design/cli.md
 * (section "### `kvbm <cmd>` options"): every option in both, nothing else in those
 * sections. Also the generated help lists every option and every bench group. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "options.h"
#include "matrix.h"

#ifndef KVBM_SOURCE_DIR
#  error "KVBM_SOURCE_DIR must name the source tree"
#endif

static char *slurp(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", KVBM_SOURCE_DIR, rel);
    FILE *f = fopen(path, "r");
    if (f == NULL) return NULL;
    static char buf[1 << 17];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *out = malloc(n + 1);
    if (out) memcpy(out, buf, n + 1);
    return out;
}

/* The text between the line starting with @start and the next line starting with @next
 * (or the end), with groff's "\-" turned into "-". */
static char *section(const char *doc, const char *start, const char *next)
{
    const char *b = strstr(doc, start);
    if (b == NULL) return NULL;
    b += strlen(start);
    const char *e = b;
    for (;;) {
        e = strchr(e, '\n');
        if (e == NULL) { e = b + strlen(b); break; }
        e++;
        if (strncmp(e, next, strlen(next)) == 0) break;
    }
    char *s = malloc((size_t)(e - b) + 1);
    size_t o = 0;
    for (const char *p = b; p < e; p++) {
        if (p[0] == '\\' && p[1] == '-') { s[o++] = '-'; p++; }
        else s[o++] = *p;
    }
    s[o] = '\0';
    return s;
}

static bool known(const cli_command *c, const char *name, size_t len)
{
    for (size_t k = 0; k < c->n_options; k++) {
        const char *n[2] = { c->options[k].name, c->options[k].alias };
        for (int j = 0; j < 2; j++)
            if (n[j] && strlen(n[j]) == len && strncmp(n[j], name, len) == 0) return true;
    }
    return false;
}

/* Does @text mention option @name as a whole word ("--out" not inside "--output")? */
static bool mentions(const char *text, const char *name)
{
    size_t l = strlen(name);
    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name))
        if (!(isalnum((unsigned char)p[l]) || p[l] == '-' || p[l] == '_')) return true;
    return false;
}

/* Every option of @c is in @text, and every "--word" in @text is an option of @c. */
static void compare(const cli_command *c, const char *text, const char *where)
{
    for (size_t k = 0; k < c->n_options; k++) {
        const char *n[2] = { c->options[k].name, c->options[k].alias };
        for (int j = 0; j < 2; j++)
            if (n[j] && !mentions(text, n[j]))
                kvbm_test_fail(__FILE__, __LINE__, "%s: option %s of 'kvbm %s' is not documented",
                               where, n[j], c->name);
    }
    for (const char *p = strstr(text, "--"); p; p = strstr(p + 2, "--")) {
        size_t l = 2;
        while (islower((unsigned char)p[l]) || (p[l] == '-' && islower((unsigned char)p[l + 1]))) l++;
        if (l > 2 && !known(c, p, l))
            kvbm_test_fail(__FILE__, __LINE__, "%s: '%.*s' is not an option of 'kvbm %s'", where,
                           (int)l, p, c->name);
    }
}

/* For every command: the section of @rel that starts at the line @fmt (with the command's
 * name, upper-cased if @upper) and ends at the next line starting with @next. */
static void check_doc(const char *rel, const char *fmt, bool upper, const char *next)
{
    char *doc = slurp(rel);
    if (doc == NULL) { kvbm_test_fail(__FILE__, __LINE__, "cannot read %s", rel); return; }
    for (size_t i = 0; i < cli_n_commands; i++) {
        const cli_command *c = cli_commands[i];
        char name[32], head[64];
        snprintf(name, sizeof name, "%s", c->name);
        for (char *q = name; upper && *q; q++) *q = (char)toupper((unsigned char)*q);
        snprintf(head, sizeof head, fmt, name);
        char *sec = section(doc, head, next);
        if (sec == NULL) { kvbm_test_fail(__FILE__, __LINE__, "%s has no section '%s'", rel, head); continue; }
        compare(c, sec, rel);
        free(sec);
    }
    free(doc);
}

KVBM_TEST(man_page_lists_exactly_the_table_options)
{
    check_doc("docs/kvbm.1", ".SH %s OPTIONS\n", true, ".SH");
}

KVBM_TEST(design_doc_lists_exactly_the_table_options)
{
    check_doc("docs/design/cli.md", "### `kvbm %s` options\n", false, "#");
}

KVBM_TEST(help_text_lists_every_option_and_bench_group)
{
    for (size_t i = 0; i < cli_n_commands; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        ASSERT_TRUE(f != NULL);
        cli_print_help(cli_commands[i], f);
        fclose(f);
        compare(cli_commands[i], buf, "help text");
        free(buf);
    }
    char *man = slurp("docs/kvbm.1");
    ASSERT_TRUE(man != NULL);
    char *bench = section(man, ".SH BENCH OPTIONS\n", ".SH");
    ASSERT_TRUE(bench != NULL);
    for (int g = 0; g < BENCH_GROUP_COUNT; g++) {
        const char *name = bench_group_name((bench_group)g);
        ASSERT_TRUE(name != NULL);
        if (!mentions(BENCH_GROUP_LIST, name)) kvbm_test_fail(__FILE__, __LINE__, "BENCH_GROUP_LIST lacks %s", name);
        if (!mentions(bench, name)) kvbm_test_fail(__FILE__, __LINE__, "man page lacks bench group %s", name);
    }
    free(bench);
    free(man);
}

KVBM_TEST(every_command_has_a_unique_name_and_options)
{
    for (size_t i = 0; i < cli_n_commands; i++) {
        const cli_command *c = cli_commands[i];
        EXPECT_TRUE(c->run != NULL && c->summary != NULL && c->intro != NULL);
        for (size_t j = 0; j < i; j++) EXPECT_TRUE(strcmp(cli_commands[j]->name, c->name) != 0);
        for (size_t k = 0; k < c->n_options; k++) {
            const cli_option *o = &c->options[k];
            EXPECT_TRUE(strncmp(o->name, "--", 2) == 0 && o->help != NULL);
            EXPECT_TRUE((o->kind == CLI_OPT_FLAG) == (o->arg == NULL));
            EXPECT_TRUE((o->kind == CLI_OPT_FN) == (o->set != NULL));
            for (size_t m = 0; m < k; m++) EXPECT_TRUE(strcmp(c->options[m].name, o->name) != 0);
        }
    }
}
