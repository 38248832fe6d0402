/* tools/kvbm/events_out.h - the event transports of the kvbm tool: URL parsing (shared by
 * `kvbm replay --events URL` and `kvbm events listen URL`) and the replay's publishing side.
 *
 * URLs: nats://HOST[:PORT][/SUBJECT] (port 4222, subject kvbm.events) and
 * zmq+tcp://HOST:PORT[?bind] (ZeroMQ; the publisher connects unless ?bind, the listener
 * connects unless ?bind - so one side of a pair says ?bind).
 *
 * Publishing during a replay: one events manager (AllEvents) is attached to the registry of
 * every manager the replay builds (observe.c calls the hooks), and its stream is batched,
 * encoded (libkvbm_events) and published by one pipeline (libkvbm_nats or libkvbm_zmq).
 * When the tool was built without those libraries, start fails with a message naming the
 * missing KVBM_WITH_* option. */
#ifndef CLI_EVENTS_OUT_H
#define CLI_EVENTS_OUT_H

#include <stdbool.h>
#include <stddef.h>

#include "kvbm/kvbm.h"

typedef struct cli_events_url {
    bool zmq;            /* else NATS */
    bool bind;           /* zmq: ?bind */
    char server[300];    /* nats://HOST:PORT | zmq+tcp://HOST:PORT (what the libraries take) */
    char endpoint[300];  /* zmq: tcp://HOST:PORT */
    char subject[256];   /* nats: the subject ("kvbm.events" when the URL has none) */
} cli_events_url;

/* Parse @url. 0, or -1 with a message naming it in @err. */
int cli_events_url_parse(const char *url, cli_events_url *out, char *err, size_t errlen);

/* Start publishing to @url (create the events manager, the publisher, the pipeline).
 * 0, or CLI_EXIT_USAGE / CLI_EXIT_ERROR after a message. */
int cli_events_out_start(const char *url);
/* The replay built / is about to destroy @m: attach / detach the events manager. No-ops
 * when not started. */
void cli_events_out_attach(kvbm_manager *m);
void cli_events_out_detach(kvbm_manager *m);
/* Export the pipeline's counters through @a (kvbm_events_add_to_aggregator). No-op when not
 * started or @a is NULL. */
void cli_events_out_export(kvbm_aggregator *a);
/* Close the stream (Shutdown batch, final flush), wait for the pipeline, print its counters
 * on stderr, free everything. 0, or CLI_EXIT_ERROR if events were lost or publishing failed.
 * Safe when nothing was started. */
int cli_events_out_finish(void);

#endif
