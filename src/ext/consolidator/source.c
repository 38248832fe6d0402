/* src/ext/consolidator/source.c - event sources and their aliases (spec 20 §4.3.1). */
#include "cons_int.h"

static const struct {
    const char      *alias;
    kvbm_cons_source source;
} aliases[] = {
    {"vllm", KVBM_CONS_SOURCE_VLLM},     {"VLLM", KVBM_CONS_SOURCE_VLLM},
    {"GPU", KVBM_CONS_SOURCE_VLLM},      {"trtllm", KVBM_CONS_SOURCE_TRTLLM},
    {"TRTLLM", KVBM_CONS_SOURCE_TRTLLM}, {"TensorRT-LLM", KVBM_CONS_SOURCE_TRTLLM},
    {"kvbm", KVBM_CONS_SOURCE_KVBM},     {"KVBM", KVBM_CONS_SOURCE_KVBM},
};

kvbm_status kvbm_cons_source_parse(const char *name, kvbm_cons_source *out)
{
    if (name == NULL || out == NULL) return KVBM_FAIL(KVBM_EINVAL, "%s: NULL argument", __func__);
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i].alias) == 0) {
            *out = aliases[i].source;
            return KVBM_OK;
        }
    return KVBM_FAIL(KVBM_EINVAL, "Unknown event source: %s", name);
}

const char *kvbm_cons_source_name(kvbm_cons_source s)
{
    switch (s) {
    case KVBM_CONS_SOURCE_VLLM: return "vllm";
    case KVBM_CONS_SOURCE_TRTLLM: return "trtllm";
    case KVBM_CONS_SOURCE_KVBM: return "kvbm";
    }
    return NULL;
}
