/* src/registry/attach_type.c - the process-wide attachment type table.
 *
 * Ids are 1, 2, 3, ... in registration order, never reused. Entries live in chunks of
 * KVBM__ATT_CHUNK that are allocated once and never freed (the names have static lifetime
 * by contract), so readers need no lock: a reader that sees id < count (acquire) also sees
 * the chunk pointer and the entry written before count was published (release).
 * Writers serialise on one mutex (registration is rare).
 */
#include <stdlib.h>
#include <string.h>

#include "registry/registry_int.h"

#define KVBM__ATT_CHUNK  256u
#define KVBM__ATT_CHUNKS 256u /* at most 65535 types */

struct att_type { const char *name; struct kvbm__att_dtor dtor; };

static pthread_mutex_t           type_mu = PTHREAD_MUTEX_INITIALIZER;
static struct att_type *_Atomic  type_chunks[KVBM__ATT_CHUNKS];
static _Atomic uint32_t          type_count = 1; /* next id; id 0 is never assigned */

static kvbm_status type_register(const char *name, struct kvbm__att_dtor dtor,
                                 kvbm_attach_type *out)
{
    if (out == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (out == NULL)", __func__);
    if (name == NULL) name = "";
    size_t len = strlen(name);
    char *copy = kvbm__malloc(len + 1);
    if (copy == NULL) return KVBM_ENOMEM;
    memcpy(copy, name, len + 1);

    kvbm_status st = KVBM_OK;
    pthread_mutex_lock(&type_mu);
    uint32_t id = atomic_load_explicit(&type_count, memory_order_relaxed);
    uint32_t c = id / KVBM__ATT_CHUNK;
    if (c >= KVBM__ATT_CHUNKS) {
        st = KVBM_EFULL;
        goto out;
    }
    struct att_type *chunk = atomic_load_explicit(&type_chunks[c], memory_order_relaxed);
    if (chunk == NULL) {
        chunk = kvbm__calloc(KVBM__ATT_CHUNK, sizeof *chunk);
        if (chunk == NULL) {
            st = KVBM_ENOMEM;
            goto out;
        }
        atomic_store_explicit(&type_chunks[c], chunk, memory_order_release);
    }
    chunk[id % KVBM__ATT_CHUNK].name = copy;
    chunk[id % KVBM__ATT_CHUNK].dtor = dtor;
    atomic_store_explicit(&type_count, id + 1, memory_order_release);
    *out = id;
out:
    pthread_mutex_unlock(&type_mu);
    if (st != KVBM_OK) kvbm__free(copy);
    return st;
}

kvbm_status kvbm_attach_type_register(const char *name, kvbm_attach_dtor dtor,
                                      kvbm_attach_type *out)
{
    struct kvbm__att_dtor d = { dtor, NULL };
    return type_register(name, d, out);
}

kvbm_status kvbm__attach_type_register_plh(const char *name, kvbm__attach_dtor_plh dtor,
                                           kvbm_attach_type *out)
{
    struct kvbm__att_dtor d = { NULL, dtor };
    return type_register(name, d, out);
}

static const struct att_type *type_get(kvbm_attach_type type)
{
    if (type == 0 || type >= atomic_load_explicit(&type_count, memory_order_acquire))
        return NULL;
    struct att_type *chunk =
        atomic_load_explicit(&type_chunks[type / KVBM__ATT_CHUNK], memory_order_acquire);
    return &chunk[type % KVBM__ATT_CHUNK];
}

const char *kvbm_attach_type_name(kvbm_attach_type type)
{
    const struct att_type *t = type_get(type);
    return t != NULL ? t->name : NULL;
}

bool kvbm__attach_type_lookup(kvbm_attach_type type, struct kvbm__att_dtor *dtor)
{
    const struct att_type *t = type_get(type);
    if (t == NULL) return false;
    *dtor = t->dtor;
    return true;
}
