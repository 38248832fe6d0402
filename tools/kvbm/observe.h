/* tools/kvbm/observe.h - `kvbm replay --metrics-port/--metrics-hold/--stats`: the managers
 * a replay builds are exported on the /metrics endpoint (libkvbm_http) and/or sampled by a
 * stats collector that prints one line per interval on stderr.
 *
 * The replay engine calls an observer when it has built a manager and before it destroys it
 * (cli_replay_set_observer, replay.h); this module is that observer. Only the latest
 * manager is exported (pool="replay"), so runs of several backends never duplicate a
 * series; after the last run its final values stay visible during --metrics-hold. */
#ifndef CLI_OBSERVE_H
#define CLI_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#define CLI_OBSERVE_PORT_OFF UINT64_MAX

typedef struct cli_observe_opts {
    uint64_t metrics_port;      /* CLI_OBSERVE_PORT_OFF: off; 0: any free port */
    uint64_t hold_s;            /* keep the endpoint up this long after the replay */
    int      stats;             /* print a stats line per interval on stderr */
    uint64_t stats_interval_ms; /* >= 1 */
    const char *events_url;     /* --events (events_out.h), NULL: off */
} cli_observe_opts;

/* KVBM_METRICS / KVBM_METRICS_PORT: turn the endpoint on when --metrics-port was not
 * given. 0, or CLI_EXIT_USAGE after a message (bad KVBM_METRICS_PORT). */
int cli_observe_apply_env(cli_observe_opts *o);

/* Start the endpoint and/or the stats printer and/or the event publishing (whose counters
 * the endpoint exports) and install the replay observer. 0, or CLI_EXIT_ERROR /
 * CLI_EXIT_USAGE after a message (port in use, no HTTP or events support in this build). */
int cli_observe_start(const cli_observe_opts *o);

/* After the replay: hold the endpoint for hold_s seconds, then stop everything and remove
 * the observer. Safe when nothing was started. */
void cli_observe_finish(void);

#endif
