/* src/ext/router/tier.c - StorageTier names, from_kv_medium (spec 20 §4.1.3), G1-G4. */
#include <strings.h>

#include "internal.h"
#include "router_int.h"

static const char *const tier_names[] = { "device", "host_pinned", "disk", "external" };

const char *kvbm_router_tier_name(kvbm_router_tier t)
{
    return (unsigned)t <= KVBM_ROUTER_TIER_EXTERNAL ? tier_names[t] : NULL;
}

kvbm_router_tier kvbm_router_tier_from_medium(const char *medium)
{
    static const struct { const char *name; kvbm_router_tier tier; } media[] = {
        { "GPU", KVBM_ROUTER_TIER_DEVICE },            { "DEVICE", KVBM_ROUTER_TIER_DEVICE },
        { "CPU_PINNED", KVBM_ROUTER_TIER_HOST_PINNED }, { "CPU_TIER1", KVBM_ROUTER_TIER_HOST_PINNED },
        { "CPU", KVBM_ROUTER_TIER_HOST_PINNED },        { "CPU_TIER2", KVBM_ROUTER_TIER_DISK },
        { "DISK", KVBM_ROUTER_TIER_DISK },              { "NVME", KVBM_ROUTER_TIER_DISK },
        { "STORAGE", KVBM_ROUTER_TIER_DISK },           { "EXTERNAL", KVBM_ROUTER_TIER_EXTERNAL },
        { "NETWORK", KVBM_ROUTER_TIER_EXTERNAL },       { "REMOTE", KVBM_ROUTER_TIER_EXTERNAL },
        { "SHARED", KVBM_ROUTER_TIER_EXTERNAL },
    };
    if (medium == NULL) return KVBM_ROUTER_TIER_DEVICE;
    for (size_t i = 0; i < sizeof media / sizeof media[0]; i++)
        if (strcasecmp(medium, media[i].name) == 0) return media[i].tier;
    return KVBM_ROUTER_TIER_DEVICE;
}

/* Parse a serialised tier name (exact, lowercase as serde writes it); false if unknown. */
bool kvbm__router_tier_parse(const char *s, size_t n, kvbm_router_tier *out)
{
    for (unsigned t = 0; t <= KVBM_ROUTER_TIER_EXTERNAL; t++)
        if (strlen(tier_names[t]) == n && memcmp(tier_names[t], s, n) == 0) {
            *out = (kvbm_router_tier)t;
            return true;
        }
    return false;
}

kvbm_status kvbm_router_tier_from_layout(kvbm_layout layout, kvbm_router_tier *out)
{
    if (out == NULL) {
        kvbm__set_error("kvbm_router_tier_from_layout: out is NULL");
        return KVBM_EINVAL;
    }
    if ((unsigned)layout > KVBM_G4) {
        kvbm__set_error("kvbm_router_tier_from_layout: layout %d is not G1..G4", (int)layout);
        return KVBM_EINVAL;
    }
    /* G1 device, G2 host_pinned, G3 disk, G4 external: the enums share their order */
    *out = (kvbm_router_tier)layout;
    return KVBM_OK;
}
