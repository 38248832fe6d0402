/* tests/support/log_capture.h - a kvbm_log_fn that records messages for assertions. */
#ifndef KVBM_TEST_LOG_CAPTURE_H
#define KVBM_TEST_LOG_CAPTURE_H

#include <pthread.h>
#include "kvbm/log.h"

typedef struct log_capture {
    pthread_mutex_t mu;
    int             count;      /* messages received */
    int             level;      /* level of the last one */
    char            module[32];
    char            last[512];  /* text of the last one */
} log_capture;

/* Install a capturing sink (all levels) on @c; log_capture_stop() restores stderr/warn. */
void log_capture_start(log_capture *c);
void log_capture_stop(log_capture *c);
int  log_capture_count(log_capture *c);

#endif
