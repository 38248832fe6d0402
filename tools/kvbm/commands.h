/* tools/kvbm/commands.h - the subcommands of the kvbm tool (their option tables and help:
 * options.h). Each returns the process exit status: 0 success, 1 runtime error, 2 usage
 * error. */
#ifndef CLI_COMMANDS_H
#define CLI_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { CLI_EXIT_OK = 0, CLI_EXIT_ERROR = 1, CLI_EXIT_USAGE = 2 };

int cli_cmd_replay(int argc, char **argv);
int cli_cmd_hash(int argc, char **argv);
int cli_cmd_simulate(int argc, char **argv);
int cli_cmd_bench(int argc, char **argv);
int cli_cmd_consolidate(int argc, char **argv);

/* `kvbm hash` token input: whitespace- or comma-separated integers in 0..2^32-1 from
 * @buf[0..len) appended to *@tok (grown with cli_grow). 0, or -1 with a message in
 * @err (a bad token, a NUL byte, out of memory). Also the fuzz target's entry point. */
int cli_hash_parse_tokens(const char *buf, size_t len, uint32_t **tok, size_t *n, size_t *cap,
                          char *err, size_t errlen);

/* "kvbm: message" on stderr (stdout flushed first); returns @status. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int cli_errorf(int status, const char *fmt, ...);

#endif /* CLI_COMMANDS_H */
