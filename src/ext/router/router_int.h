/* src/ext/router/router_int.h - helpers shared by the router codec's files. */
#ifndef KVBM_ROUTER_INT_H
#define KVBM_ROUTER_INT_H

#include "internal.h"
#include "ext/common/mpack_buf.h"
#include "kvbm/router_events.h"

/* Parse a serialised StorageTier name (@n bytes at @s, exact); false if unknown. */
bool kvbm__router_tier_parse(const char *s, size_t n, kvbm_router_tier *out);

/* JSON of @n mm objects, comma-separated: {"mm_hash":H,"offsets":[[s,e],...]},... (also used
 * by libkvbm_vllm's JSON rendering, hence exported). */
KVBM__EXT_API void kvbm__router_json_mm_objects(kvbm__jbuf *j, const kvbm_router_mm_object *o, size_t n);

#endif
