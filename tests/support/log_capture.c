/* tests/support/log_capture.c - see log_capture.h. */
#include <stdio.h>
#include <string.h>

#include "support/log_capture.h"

static void capture(void *ctx, kvbm_log_level level, const char *module, const char *msg)
{
    log_capture *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->count++;
    c->level = level;
    snprintf(c->module, sizeof c->module, "%s", module);
    snprintf(c->last, sizeof c->last, "%s", msg);
    pthread_mutex_unlock(&c->mu);
}

void log_capture_start(log_capture *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    kvbm_set_log_fn(capture, c, KVBM_LOG_DEBUG);
}

void log_capture_stop(log_capture *c)
{
    kvbm_set_log_fn(NULL, NULL, KVBM_LOG_WARN);
    pthread_mutex_destroy(&c->mu);
}

int log_capture_count(log_capture *c)
{
    pthread_mutex_lock(&c->mu);
    int n = c->count;
    pthread_mutex_unlock(&c->mu);
    return n;
}
