/* src/common/log.c - the process-wide log sink (kvbm/log.h). Cold path only. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "internal.h"
#include "kvbm/log.h"

static pthread_rwlock_t log_lock = PTHREAD_RWLOCK_INITIALIZER;
static kvbm_log_fn      log_fn   = kvbm_log_stderr;
static void            *log_ctx;
/* KVBM_LOG_OFF - 1: not yet initialised from the environment */
static _Atomic int      log_max  = KVBM_LOG_OFF - 1;

const char *kvbm_log_level_name(kvbm_log_level level)
{
    switch (level) {
    case KVBM_LOG_ERROR: return "error";
    case KVBM_LOG_WARN:  return "warn";
    case KVBM_LOG_INFO:  return "info";
    case KVBM_LOG_DEBUG: return "debug";
    default:             return "off";
    }
}

void kvbm_log_stderr(void *ctx, kvbm_log_level level, const char *module, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "kvbm[%s] %s: %s\n", kvbm_log_level_name(level), module, msg);
}

static int env_level(void)
{
    const char *e = getenv("KVBM_LOG");
    if (e == NULL || *e == '\0') return KVBM_LOG_WARN;
    for (int l = KVBM_LOG_OFF; l <= KVBM_LOG_DEBUG; l++)
        if (strcasecmp(e, kvbm_log_level_name((kvbm_log_level)l)) == 0) return l;
    return KVBM_LOG_WARN;
}

void kvbm_set_log_fn(kvbm_log_fn fn, void *ctx, kvbm_log_level max_level)
{
    pthread_rwlock_wrlock(&log_lock);
    log_fn = fn != NULL ? fn : kvbm_log_stderr;
    log_ctx = fn != NULL ? ctx : NULL;
    int m = max_level < KVBM_LOG_OFF ? KVBM_LOG_OFF : max_level > KVBM_LOG_DEBUG ? KVBM_LOG_DEBUG : (int)max_level;
    atomic_store_explicit(&log_max, m, memory_order_relaxed);
    pthread_rwlock_unlock(&log_lock);
}

bool kvbm__log_enabled(kvbm_log_level level)
{
    int m = atomic_load_explicit(&log_max, memory_order_relaxed);
    if (KVBM_UNLIKELY(m < KVBM_LOG_OFF)) {
        int want = env_level(), cur = KVBM_LOG_OFF - 1;
        /* a concurrent kvbm_set_log_fn wins over the environment */
        if (!atomic_compare_exchange_strong_explicit(&log_max, &cur, want, memory_order_relaxed,
                                                     memory_order_relaxed))
            want = cur;
        m = want;
    }
    return (int)level <= m;
}

void kvbm__log(kvbm_log_level level, const char *module, const char *fmt, ...)
{
    kvbm__rank_assert_none(); /* never under a kvbm lock (kvbm/log.h) */
    if (!kvbm__log_enabled(level)) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_rwlock_rdlock(&log_lock);
    kvbm_log_fn fn = log_fn;
    void *ctx = log_ctx;
    pthread_rwlock_unlock(&log_lock);
    fn(ctx, level, module, msg);
}
