/* src/ext/router/router_int.h - helpers shared by the router codec's files. */
#ifndef KVBM_ROUTER_INT_H
#define KVBM_ROUTER_INT_H

#include "internal.h"
#include "kvbm/router_events.h"

/* Parse a serialised StorageTier name (@n bytes at @s, exact); false if unknown. */
bool kvbm__router_tier_parse(const char *s, size_t n, kvbm_router_tier *out);

#endif
