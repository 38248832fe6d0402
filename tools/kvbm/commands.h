/* tools/kvbm/commands.h - the subcommands of the kvbm tool and their shared argv helpers.
 * Each returns the process exit status: 0 success, 1 runtime error, 2 usage error. */
#ifndef CLI_COMMANDS_H
#define CLI_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

enum { CLI_EXIT_OK = 0, CLI_EXIT_ERROR = 1, CLI_EXIT_USAGE = 2 };

int cli_cmd_replay(int argc, char **argv);
int cli_cmd_hash(int argc, char **argv);
int cli_cmd_bench(int argc, char **argv);
int cli_cmd_simulate(int argc, char **argv);

/* Usage texts (main.c). */
void cli_usage_replay(void);
void cli_usage_hash(void);
void cli_usage_bench(void);
void cli_usage_simulate(void); /* simulate_cmd.c */

/* Option matching for "--name VALUE" and "--name=VALUE": if argv[*i] is option @name,
 * sets *val (NULL when the value is missing), advances *i past a separate value and
 * returns true. */
bool cli_opt_value(char **argv, int argc, int *i, const char *name, const char **val);

/* "kvbm: message" on stderr; returns @status. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int cli_errorf(int status, const char *fmt, ...);

#endif /* CLI_COMMANDS_H */
