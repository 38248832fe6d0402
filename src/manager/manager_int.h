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

/* Stage and register @n mutable blocks of @m at once (kvbm__store_stage_register): the
 * sequence layer's block-completing step. EINVAL if @m is NULL. */
kvbm_status kvbm__manager_stage_register(kvbm_manager *m, kvbm_mutable *const *in,
                                         const kvbm_plh *hashes, size_t n, uint32_t block_size,
                                         kvbm_block **out, size_t *done);

#endif /* KVBM_MANAGER_INT_H */
