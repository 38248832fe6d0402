/* src/manager/manager_int.h - the manager's internal entry points (not installed).
 *
 * struct kvbm_manager itself is private to manager.c (a store reference and the backend
 * kind); the store (src/store/) knows nothing about it.
 */
#ifndef KVBM_MANAGER_INT_H
#define KVBM_MANAGER_INT_H

#include "internal.h"
#include "kvbm/manager.h"
#include "backends/backend.h"

struct kvbm__store; /* store/store_int.h */

/* Internal manager constructor: a manager over a caller-built backend (tests inject fake
 * backends). @set_gauges: initialise reset_pool_size = block_count as the builder does.
 * Backend ownership moves to the manager (also on error). */
kvbm_status kvbm__manager_create_with_backend(const kvbm_manager_config *cfg,
                                              kvbm__inactive *backend, bool set_gauges,
                                              kvbm_manager **out);

/* The manager's block store (borrowed; tests reach into it to corrupt or inspect it). */
struct kvbm__store *kvbm__manager_store(const kvbm_manager *m);

#endif /* KVBM_MANAGER_INT_H */
