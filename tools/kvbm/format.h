/* tools/kvbm/format.h - replay results as a table, JSON lines or CSV. */
#ifndef CLI_FORMAT_H
#define CLI_FORMAT_H

#include <stdio.h>

#include "replay.h"

typedef enum cli_format {
    CLI_FORMAT_TABLE = 0,
    CLI_FORMAT_JSON  = 1, /* one JSON object per run, one per line */
    CLI_FORMAT_CSV   = 2  /* header line, then one row per run */
} cli_format;

int cli_format_parse(const char *s, cli_format *out);

/* Write @s as a JSON string literal (quotes included). */
void cli_format_json_string(FILE *f, const char *s);

/* Table: a header describing the trace (@trace_blocks block references), then one row per
 * result, then the pool-check line. */
void cli_format_table(FILE *f, const char *trace, uint64_t trace_requests, uint64_t trace_blocks,
                       const cli_replay_result *r, size_t n);
void cli_format_json(FILE *f, const char *trace, const cli_replay_result *r);
void cli_format_csv_header(FILE *f);
void cli_format_csv_row(FILE *f, const char *trace, const cli_replay_result *r);

#endif /* CLI_FORMAT_H */
