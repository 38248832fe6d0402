/* src/ext/router/router_int.h - helpers shared by the router codec's files. */
#ifndef KVBM_ROUTER_INT_H
#define KVBM_ROUTER_INT_H

#include "internal.h"
#include "kvbm/router_events.h"

/* libkvbm.so exports kvbm__set_error (KVBM__EXT_API) but not kvbm__fail: this library's
 * KVBM_FAIL sets the message through the exported function. */
#undef KVBM_FAIL
#define KVBM_FAIL(st, ...) (kvbm__set_error(__VA_ARGS__), (st))

/* Parse a serialised StorageTier name (@n bytes at @s, exact); false if unknown. */
bool kvbm__router_tier_parse(const char *s, size_t n, kvbm_router_tier *out);

#endif
