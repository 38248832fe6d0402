/* src/ext/vllm/vllm_int.h - helpers shared by the files of libkvbm_vllm's codec. */
#ifndef KVBM_VLLM_INT_H
#define KVBM_VLLM_INT_H

#include "kvbm/vllm_events.h"

/* The event belongs to a non-main attention group (kvbm/vllm_events.h, "ignored"). */
bool kvbm__vllm_ignored(const kvbm_vllm_event *ev);

/* Check @ev's arrays against their lengths (a length with a NULL array) and its type;
 * KVBM_EINVAL with a message naming @fn and the event index @i. */
kvbm_status kvbm__vllm_event_check(const kvbm_vllm_event *ev, size_t i, const char *fn);

#endif
