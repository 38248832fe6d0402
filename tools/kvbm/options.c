/* tools/kvbm/options.c - the command table, the table-driven option parser, the help
 * printer and the tool's error printers (options.h, commands.h). */
#include "options.h"

#include <stdarg.h>
#include <string.h>

#include "commands.h"

int cli_errorf(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout); /* messages must not land inside a table */
    fputs("kvbm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return status;
}

const cli_command *const cli_commands[] = { &cli_replay_command, &cli_bench_command, &cli_hash_command,
                                             &cli_simulate_command, &cli_consolidate_command };
const size_t cli_n_commands = sizeof cli_commands / sizeof cli_commands[0];

int cli_usage_error(const cli_command *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "kvbm: %s: ", c->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'kvbm help %s')\n", c->name);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

/* Strict unsigned decimal: 0 ok, -1 not a number, -2 does not fit in 64 bits. */
static int parse_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9') return -1;
    uint64_t v = 0;
    int overflow = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) overflow = 1;
        else v = v * 10 + d;
    }
    if (overflow) return -2;
    *out = v;
    return 0;
}

static int store(const cli_command *c, const cli_option *o, void *opts, const char *v)
{
    char *field = (char *)opts + o->offset;
    uint64_t u = 0;
    int r;
    switch (o->kind) {
    case CLI_OPT_FLAG:
        *(int *)(void *)field = (int)o->min;
        return 0;
    case CLI_OPT_U64:
        r = parse_u64(v, &u);
        if (r == -1) return cli_usage_error(c, "%s needs a number, got '%s'", o->name, v);
        if (r == -2 || u < o->min || u > o->max)
            return cli_usage_error(c, "%s %s is out of range (%llu..%llu)", o->name, v,
                                   (unsigned long long)o->min, (unsigned long long)o->max);
        *(uint64_t *)(void *)field = u;
        return 0;
    case CLI_OPT_STR:
        if (v[0] == '\0') return cli_usage_error(c, "%s needs a non-empty %s", o->name, o->arg);
        *(const char **)(void *)field = v;
        return 0;
    case CLI_OPT_FN:
        return o->set(opts, v);
    }
    return cli_usage_error(c, "%s: bad option table entry", o->name);
}

/* The option @a names (its value after '=' in *eq, else NULL), or NULL. */
static const cli_option *find(const cli_command *c, const char *a, const char **eq)
{
    for (size_t k = 0; k < c->n_options; k++) {
        const cli_option *o = &c->options[k];
        const char *names[2] = { o->name, o->alias };
        for (int j = 0; j < 2; j++) {
            size_t nl = names[j] ? strlen(names[j]) : 0;
            if (nl == 0 || strncmp(a, names[j], nl) != 0) continue;
            if (a[nl] == '\0') { *eq = NULL; return o; }
            if (a[nl] == '=' && o->arg != NULL) { *eq = a + nl + 1; return o; }
        }
    }
    return NULL;
}

int cli_parse_options(const cli_command *c, int argc, char **argv, void *opts, bool *help)
{
    bool positional_only = false;
    *help = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int r;
        if (!positional_only && a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "--") == 0) { positional_only = true; continue; }
            if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { *help = true; return 0; }
            const cli_option *o = find(c, a, &v);
            if (o == NULL) return cli_usage_error(c, "unknown option '%s'", a);
            if (o->arg != NULL && v == NULL) {
                if (i + 1 >= argc) return cli_usage_error(c, "%s needs a value (%s)", o->name, o->arg);
                v = argv[++i];
            }
            r = store(c, o, opts, v);
        } else if (c->positional != NULL) {
            r = c->positional(opts, a);
        } else {
            r = cli_usage_error(c, "unexpected argument '%s'", a);
        }
        if (r != 0) return r;
    }
    return 0;
}

void cli_print_help(const cli_command *c, FILE *f)
{
    fprintf(f, "usage: kvbm %s %s\n\n%s\n", c->name, c->synopsis, c->intro);
    if (c->n_options > 0) fputs("\noptions:\n", f);
    for (size_t k = 0; k < c->n_options; k++) {
        const cli_option *o = &c->options[k];
        char left[64];
        int n = snprintf(left, sizeof left, "  %s%s%s%s%s", o->name, o->arg ? " " : "",
                         o->arg ? o->arg : "", o->alias ? ", " : "", o->alias ? o->alias : "");
        fputs(left, f);
        const char *h = o->help;
        int col = n;
        for (;;) {
            const char *nl = strchr(h, '\n');
            int len = nl ? (int)(nl - h) : (int)strlen(h);
            if (col >= 28) { fputc('\n', f); col = 0; }
            fprintf(f, "%*s%.*s\n", 28 - col, "", len, h);
            col = 0;
            if (nl == NULL) break;
            h = nl + 1;
        }
    }
}
