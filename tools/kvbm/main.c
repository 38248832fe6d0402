/* tools/kvbm/main.c - the kvbm command-line tool: the command table, dispatch, help, version. */
#include <stdio.h>
#include <string.h>

#include "kvbm/common.h"
#include "commands.h"
#include "options.h"

static const cli_command *command(const char *name)
{
    for (size_t i = 0; i < cli_n_commands; i++)
        if (strcmp(cli_commands[i]->name, name) == 0) return cli_commands[i];
    return NULL;
}

/* "  NAME   summary" with the summary's continuation lines aligned. */
static void usage_line(FILE *f, const char *name, const char *s)
{
    fprintf(f, "  %-21s", name);
    for (;;) {
        const char *nl = strchr(s, '\n');
        fprintf(f, " %.*s\n", nl ? (int)(nl - s) : (int)strlen(s), s);
        if (nl == NULL) break;
        s = nl + 1;
        fprintf(f, "  %-21s", "");
    }
}

static void usage_main(FILE *f)
{
    fputs("usage: kvbm <command> [options]\n\ncommands:\n", f);
    for (size_t i = 0; i < cli_n_commands; i++) usage_line(f, cli_commands[i]->name, cli_commands[i]->summary);
    usage_line(f, "help [COMMAND]", "this text, or a command's options");
    usage_line(f, "--version", "print the version");
    fputs("\n"
          "Start here:  kvbm replay\n"
          "Manual:      man kvbm (after make install; minimal systems need the man-db\n"
          "             package), or from the source tree: man -l docs/kvbm.1\n", f);
}

int main(int argc, char **argv)
{
    if (kvbm_version_number() / 100 != KVBM_VERSION_NUMBER / 100)
        return cli_errorf(CLI_EXIT_ERROR, "library version %s does not match this tool (%s)",
                           kvbm_version_string(), KVBM_VERSION_STRING);
    if (argc < 2) {
        usage_main(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
        printf("kvbm %s (library %s)\n", KVBM_VERSION_STRING, kvbm_version_string());
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        const char *topic = argc > 2 ? argv[2] : NULL;
        if (topic == NULL) usage_main(stdout);
        else if (command(topic) != NULL) cli_print_help(command(topic), stdout);
        else return cli_errorf(CLI_EXIT_USAGE, "no help for unknown command '%s'", topic);
        return CLI_EXIT_OK;
    }
    if (command(cmd) != NULL) return command(cmd)->run(argc - 1, argv + 1);
    cli_errorf(0, "unknown command '%s'", cmd);
    usage_main(stderr);
    return CLI_EXIT_USAGE;
}
