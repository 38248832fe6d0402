/* src/events/policy.c - emission policies (spec 20 §3.3). */
#include "events/events_int.h"

kvbm_events_policy kvbm_events_policy_all(void)
{
    kvbm_events_policy p = { KVBM_EVENTS_POLICY_ALL, 0, 0, NULL, NULL };
    return p;
}

kvbm_events_policy kvbm_events_policy_power_of_two_range(uint64_t min, uint64_t max)
{
    kvbm_events_policy p = { KVBM_EVENTS_POLICY_POWER_OF_TWO, min, max, NULL, NULL };
    return p;
}

kvbm_events_policy kvbm_events_policy_power_of_two(void)
{
    return kvbm_events_policy_power_of_two_range(16, 65536);
}

kvbm_events_policy kvbm_events_policy_custom(bool (*fn)(void *ctx, kvbm_plh h), void *ctx)
{
    kvbm_events_policy p = { KVBM_EVENTS_POLICY_CUSTOM, 0, 0, fn, ctx };
    return p;
}

bool kvbm_events_policy_should_emit(const kvbm_events_policy *p, kvbm_plh h)
{
    if (p == NULL) return true;
    switch (p->kind) {
    case KVBM_EVENTS_POLICY_POWER_OF_TWO: {
        uint64_t pos = kvbm_plh_position(h);
        return pos >= p->min_position && pos <= p->max_position && kvbm__is_pow2_u64(pos);
    }
    case KVBM_EVENTS_POLICY_CUSTOM:
        return p->should_emit != NULL && p->should_emit(p->ctx, h);
    default:
        return true;
    }
}
