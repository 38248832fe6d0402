/* tools/kvbm/format.c - table / JSON / CSV emitters for replay results. */
#include "format.h"

#include <string.h>

int cli_format_parse(const char *s, cli_format *out)
{
    if (strcmp(s, "table") == 0) { *out = CLI_FORMAT_TABLE; return 0; }
    if (strcmp(s, "json") == 0)  { *out = CLI_FORMAT_JSON;  return 0; }
    if (strcmp(s, "csv") == 0)   { *out = CLI_FORMAT_CSV;   return 0; }
    return -1;
}

void cli_format_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':  fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* CSV field: quoted when it contains a comma, quote or newline. */
static void csv_string(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\n\r") == NULL) { fputs(s, f); return; }
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"') fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static const char *order_name(cli_release_order o)
{
    return o == CLI_RELEASE_FORWARD ? "forward" : "reverse";
}

#define U(x) ((unsigned long long)(x))

void cli_format_table(FILE *f, const char *trace, uint64_t trace_requests, uint64_t trace_blocks,
                       const cli_replay_result *r, size_t n)
{
    fprintf(f, "trace     %s\n", trace);
    fprintf(f, "requests  %llu, blocks %llu", U(trace_requests), U(trace_blocks));
    if (n > 0 && trace_blocks > 0)
        fprintf(f, " (%llu distinct; infinite-cache hit rate %.2f%%)", U(r[0].unique_blocks),
                100.0 * (double)(trace_blocks - r[0].unique_blocks) / (double)trace_blocks);
    fputc('\n', f);
    if (n > 0) {
        fprintf(f, "model     block size %u, duplication allow, tracker %s, release %s\n",
                r[0].block_size, cli_tracker_name(r[0].tracker), order_name(r[0].release_order));
        fprintf(f, "timing    hashing %.2f ms (once); manager phase per run: median of %u\n\n",
                r[0].hash_ms, r[0].repeat);
    }
    fprintf(f, "%-12s %8s %8s %8s %12s %8s %9s %7s %9s %5s %8s %12s\n", "backend", "capacity",
            "hit rate", "hits", "no room", "evicted", "allocated", "from", "register", "dups",
            "manager", "Mblocks/s");
    fprintf(f, "%-12s %8s %8s %8s %12s %8s %9s %7s %9s %5s %8s %12s\n", "", "(blocks)", "",
            "(blocks)", "(req/blocks)", "", "", "reset", "-ed", "", "ms", "wall  cpu");
    for (size_t i = 0; i < n; i++) {
        const cli_replay_result *x = &r[i];
        char nr[32];
        snprintf(nr, sizeof nr, "%llu/%llu", U(x->no_room_requests), U(x->no_room_blocks));
        fprintf(f, "%-12s %8llu %7.2f%% %8llu %12s %8llu %9llu %7llu %9llu %5llu %8.2f %6.2f %5.2f\n",
                cli_backend_name(x->backend), U(x->capacity), 100.0 * x->hit_rate,
                U(x->blocks_hit), nr, U(x->evictions), U(x->allocations),
                U(x->allocations_from_reset), U(x->registrations), U(x->duplicate_blocks),
                x->manager_ms, x->blocks_per_s / 1e6, x->blocks_per_cpu_s / 1e6);
    }
    if (n > 0 && r[0].has_breakdown) {
        fprintf(f, "\nmanager time by call, ms (share; --breakdown adds clock reads)\n%-12s %8s",
                "backend", "capacity");
        for (int k = 0; k < CLI_STEP_COUNT; k++) fprintf(f, " %15s", cli_replay_step_name(k));
        fputc('\n', f);
        for (size_t i = 0; i < n; i++) {
            fprintf(f, "%-12s %8llu", cli_backend_name(r[i].backend), U(r[i].capacity));
            for (int k = 0; k < CLI_STEP_COUNT; k++)
                fprintf(f, " %8.2f (%3.0f%%)", r[i].step_ms[k],
                        r[i].manager_ms > 0 ? 100.0 * r[i].step_ms[k] / r[i].manager_ms : 0.0);
            fputc('\n', f);
        }
    }
    bool all = true;
    for (size_t i = 0; i < n; i++) all = all && r[i].pool_restored;
    fprintf(f, "\npool check: %s\n",
            all ? "OK - after every run all blocks were back in the pool "
                  "(available == capacity) and the store invariants held"
                : "FAILED");
}

void cli_format_json(FILE *f, const char *trace, const cli_replay_result *x)
{
    fputs("{\"trace\":", f);
    cli_format_json_string(f, trace);
    fprintf(f, ",\"tracker\":\"%s\"", cli_tracker_name(x->tracker));
    fprintf(f, ",\"backend\":\"%s\",\"capacity\":%llu,\"block_size\":%u,\"release_order\":\"%s\","
               "\"repeat\":%u,\"requests\":%llu,\"blocks_requested\":%llu,\"blocks_hit\":%llu,"
               "\"hit_rate\":%.6f,\"no_room_requests\":%llu,\"no_room_blocks\":%llu,"
               "\"evictions\":%llu,\"allocations\":%llu,\"allocations_from_reset\":%llu,"
               "\"registrations\":%llu,\"duplicate_blocks\":%llu,\"unique_blocks\":%llu,"
               "\"hash_ms\":%.3f,\"manager_ms\":%.3f,\"manager_ms_min\":%.3f,"
               "\"blocks_per_s\":%.0f,\"manager_cpu_ms\":%.3f,\"blocks_per_cpu_s\":%.0f,"
               "\"pool_restored\":%s",
            cli_backend_name(x->backend), U(x->capacity), x->block_size,
            order_name(x->release_order), x->repeat, U(x->requests), U(x->blocks_requested),
            U(x->blocks_hit), x->hit_rate, U(x->no_room_requests), U(x->no_room_blocks),
            U(x->evictions), U(x->allocations), U(x->allocations_from_reset), U(x->registrations),
            U(x->duplicate_blocks), U(x->unique_blocks), x->hash_ms, x->manager_ms,
            x->manager_ms_min, x->blocks_per_s, x->manager_cpu_ms, x->blocks_per_cpu_s,
            x->pool_restored ? "true" : "false");
    if (x->has_breakdown)
        for (int k = 0; k < CLI_STEP_COUNT; k++)
            fprintf(f, ",\"%s_ms\":%.3f", cli_replay_step_name(k), x->step_ms[k]);
    fputs("}\n", f);
}

void cli_format_csv_header(FILE *f)
{
    fputs("trace,backend,capacity,block_size,release_order,repeat,requests,blocks_requested,"
          "blocks_hit,hit_rate,no_room_requests,no_room_blocks,evictions,allocations,"
          "allocations_from_reset,registrations,duplicate_blocks,unique_blocks,hash_ms,"
          "manager_ms,manager_ms_min,blocks_per_s,pool_restored,tracker,manager_cpu_ms,"
          "blocks_per_cpu_s\n", f);
}

void cli_format_csv_row(FILE *f, const char *trace, const cli_replay_result *x)
{
    csv_string(f, trace);
    fprintf(f, ",%s,%llu,%u,%s,%u,%llu,%llu,%llu,%.6f,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,"
               "%.3f,%.3f,%.3f,%.0f,%s,%s,%.3f,%.0f\n",
            cli_backend_name(x->backend), U(x->capacity), x->block_size,
            order_name(x->release_order), x->repeat, U(x->requests), U(x->blocks_requested),
            U(x->blocks_hit), x->hit_rate, U(x->no_room_requests), U(x->no_room_blocks),
            U(x->evictions), U(x->allocations), U(x->allocations_from_reset), U(x->registrations),
            U(x->duplicate_blocks), U(x->unique_blocks), x->hash_ms, x->manager_ms,
            x->manager_ms_min, x->blocks_per_s, x->pool_restored ? "true" : "false",
            cli_tracker_name(x->tracker), x->manager_cpu_ms, x->blocks_per_cpu_s);
}
