/* src/common/error.c - thread-local last-error message and assertion failure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

#define KVBM_ERRBUF 512
static _Thread_local char kvbm__errbuf[KVBM_ERRBUF];

void kvbm__set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(kvbm__errbuf, sizeof kvbm__errbuf, fmt, ap);
    va_end(ap);
}

kvbm_status kvbm__fail(kvbm_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(kvbm__errbuf, sizeof kvbm__errbuf, fmt, ap);
    va_end(ap);
    return st;
}

const char *kvbm_last_error(void) { return kvbm__errbuf; }

void kvbm_clear_last_error(void) { kvbm__errbuf[0] = '\0'; }

_Noreturn void kvbm__assert_fail(const char *expr, const char *file, int line, const char *func)
{
    fprintf(stderr, "kvbm: assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
    fflush(stderr);
    abort();
}
