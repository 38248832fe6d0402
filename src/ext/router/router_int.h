/* src/ext/router/router_int.h - helpers shared by the router codec's files. */
#ifndef KVBM_ROUTER_INT_H
#define KVBM_ROUTER_INT_H

#include "kvbm/router_events.h"

/* KVBM_EINVAL (with a message naming @fn) when @ev has an enum value out of range or a NULL
 * array with a non-zero length in the variant its kind selects. */
kvbm_status kvbm__router_check_event(const kvbm_router_event *ev, const char *fn);

/* Parse a serialised StorageTier name (@n bytes at @s, exact); false if unknown. */
bool kvbm__router_tier_parse(const char *s, size_t n, kvbm_router_tier *out);

#endif
