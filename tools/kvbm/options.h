/* tools/kvbm/options.h - one option table per subcommand: it drives the argv parser, the
 * help text (`kvbm help CMD`, `kvbm CMD --help`) and is checked against the man page and
 * docs/design/cli.md by tests/tools/test_cli_docs.c, so the three cannot drift.
 *
 * Adding an option is one table entry (in the command's *_cmd.c): a name, the value's
 * placeholder (NULL for a flag), the help text and how to store it - a flag value, a
 * range-checked unsigned integer, a non-empty string, or a small setter for anything
 * else - then the option's entry in docs/kvbm.1 and docs/design/cli.md. */
#ifndef CLI_OPTIONS_H
#define CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cli_opt_kind {
    CLI_OPT_FLAG, /* no value: stores (int)min into the int field */
    CLI_OPT_U64,  /* unsigned decimal in [min, max] into the uint64_t field */
    CLI_OPT_STR,  /* non-empty string into the const char * field (argv, not copied) */
    CLI_OPT_FN    /* set(opts, value): 0, or CLI_EXIT_USAGE after printing a message */
} cli_opt_kind;

typedef struct cli_option {
    const char  *name;    /* "--capacity" */
    const char  *alias;   /* another accepted spelling, or NULL */
    const char  *arg;     /* value placeholder ("BLOCKS"); NULL for flags */
    const char  *help;    /* '\n' continues the text on the next help line */
    cli_opt_kind kind;
    size_t       offset;  /* of the field in the command's options struct */
    uint64_t     min, max;
    int        (*set)(void *opts, const char *value);
} cli_option;

typedef struct cli_command {
    const char       *name;      /* "replay" */
    const char       *synopsis;  /* after "usage: kvbm NAME " */
    const char       *summary;   /* one line in `kvbm help` */
    const char       *intro;     /* paragraph above the options in `kvbm help NAME` */
    const cli_option *options;
    size_t            n_options;
    /* argument that is not an option (opts, arg): 0 or CLI_EXIT_USAGE after a message;
     * NULL: the command takes none */
    int             (*positional)(void *opts, const char *arg);
    int             (*run)(int argc, char **argv);
} cli_command;

/* Every subcommand, in help order (main.c). */
extern const cli_command *const cli_commands[];
extern const size_t cli_n_commands;
extern const cli_command cli_replay_command, cli_bench_command, cli_hash_command;
extern const cli_command cli_simulate_command;
extern const cli_command cli_consolidate_command;

/**
 * cli_parse_options() - parse argv[1..argc) against @c's table into @opts. "--name VALUE"
 * and "--name=VALUE" are accepted; after "--" every argument is positional.
 * Returns 0 (*help set for -h/--help), or CLI_EXIT_USAGE after printing
 * "kvbm: CMD: message (see 'kvbm help CMD')" on stderr.
 */
int cli_parse_options(const cli_command *c, int argc, char **argv, void *opts, bool *help);

/* A usage error of command @c: prints like cli_parse_options, returns CLI_EXIT_USAGE. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int cli_usage_error(const cli_command *c, const char *fmt, ...);

/* `kvbm help NAME`: usage line, intro and the option list generated from the table. */
void cli_print_help(const cli_command *c, FILE *f);

#endif /* CLI_OPTIONS_H */
