/* src/backends/leaf_policy.c - exported wrappers of leaf_policy.h (tests use these; the
 * Lineage backend calls the static inline versions directly). */
#include "backends/leaf_policy.h"

kvbm_status kvbm__leaf_policy_init(kvbm__leaf_policy *p, kvbm_lineage_eviction kind,
                                   size_t cells, size_t max_leaves)
{
    return kvbm__lp_init(p, kind, cells, max_leaves);
}
void kvbm__leaf_policy_fini(kvbm__leaf_policy *p) { kvbm__lp_fini(p); }
kvbm_status kvbm__leaf_policy_reserve(kvbm__leaf_policy *p, size_t cells) { return kvbm__lp_reserve(p, cells); }
void kvbm__leaf_policy_on_node_inserted(kvbm__leaf_policy *p, uint32_t idx) { kvbm__lp_on_node_inserted(p, idx); }
kvbm_status kvbm__leaf_policy_on_leaf_added(kvbm__leaf_policy *p, uint32_t idx) { return kvbm__lp_on_leaf_added(p, idx); }
void kvbm__leaf_policy_on_leaf_demoted(kvbm__leaf_policy *p, uint32_t idx) { kvbm__lp_on_leaf_demoted(p, idx); }
void kvbm__leaf_policy_on_node_removed(kvbm__leaf_policy *p, uint32_t idx) { kvbm__lp_on_node_removed(p, idx); }
uint32_t kvbm__leaf_policy_next_victim(const kvbm__leaf_policy *p) { return kvbm__lp_next_victim(p); }
size_t kvbm__leaf_policy_len(const kvbm__leaf_policy *p) { return kvbm__lp_len(p); }
bool kvbm__leaf_policy_contains(const kvbm__leaf_policy *p, uint32_t idx) { return kvbm__lp_contains(p, idx); }
uint64_t kvbm__leaf_policy_tick(const kvbm__leaf_policy *p, uint32_t idx) { return kvbm__lp_tick(p, idx); }
bool kvbm__leaf_policy_check(const kvbm__leaf_policy *p) { return kvbm__lp_check(p); }
