/* src/backends/leaf_policy.c - exported wrappers of leaf_policy.h (tests use these; the
 * Lineage backend calls the static inline versions directly). */
#include "backends/leaf_policy.h"

kvbm_status kvbm__leaf_policy_init(kvbm_leaf_policy *p, kvbm_lineage_eviction kind,
                                   size_t cells, size_t max_leaves)
{
    return lp_init(p, kind, cells, max_leaves);
}
void kvbm__leaf_policy_fini(kvbm_leaf_policy *p) { lp_fini(p); }
kvbm_status kvbm__leaf_policy_reserve(kvbm_leaf_policy *p, size_t cells) { return lp_reserve(p, cells); }
void kvbm__leaf_policy_on_node_inserted(kvbm_leaf_policy *p, uint32_t idx) { lp_on_node_inserted(p, idx); }
kvbm_status kvbm__leaf_policy_on_leaf_added(kvbm_leaf_policy *p, uint32_t idx) { return lp_on_leaf_added(p, idx); }
void kvbm__leaf_policy_on_leaf_demoted(kvbm_leaf_policy *p, uint32_t idx) { lp_on_leaf_demoted(p, idx); }
void kvbm__leaf_policy_on_node_removed(kvbm_leaf_policy *p, uint32_t idx) { lp_on_node_removed(p, idx); }
uint32_t kvbm__leaf_policy_next_victim(const kvbm_leaf_policy *p) { return lp_next_victim(p); }
size_t kvbm__leaf_policy_len(const kvbm_leaf_policy *p) { return lp_len(p); }
bool kvbm__leaf_policy_contains(const kvbm_leaf_policy *p, uint32_t idx) { return lp_contains(p, idx); }
uint64_t kvbm__leaf_policy_tick(const kvbm_leaf_policy *p, uint32_t idx) { return lp_tick(p, idx); }
bool kvbm__leaf_policy_check(const kvbm_leaf_policy *p) { return lp_check(p); }
