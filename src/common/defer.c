/* src/common/defer.c - the per-thread deferred-work hook (see internal.h). */
#include "internal.h"

_Thread_local kvbm__defer_fn kvbm__deferred;
