/* src/common/status.c - status table lookups and version. */
#include "internal.h"

#define KVBM__STATUS_MSG(name, val, msg) case KVBM_##name: return msg;
#define KVBM__STATUS_NAME(name, val, msg) case KVBM_##name: return "KVBM_" #name;

const char *kvbm_strerror(kvbm_status s)
{
    switch (s) { KVBM_STATUS_MAP(KVBM__STATUS_MSG) }
    return "unknown kvbm status";
}

const char *kvbm_status_name(kvbm_status s)
{
    switch (s) { KVBM_STATUS_MAP(KVBM__STATUS_NAME) }
    return "KVBM_UNKNOWN";
}

unsigned kvbm_version_number(void) { return KVBM_VERSION_NUMBER; }
const char *kvbm_version_string(void) { return KVBM_VERSION_STRING; }
