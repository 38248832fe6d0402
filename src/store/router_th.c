/* src/store/router_th.c - the Dynamo router tokens_hash of each block (spec 20 §4.1.4),
 * kept when the manager is configured with router_tokens_hash (docs/DESIGN.md §"Router
 * feed"). Off (the default), none of this runs: the store's rth pointer is NULL.
 *
 * kvbm_mutable_complete() computes XXH3_64(LE32(tokens), router seed) into rth[slot]
 * together with the token block's PLH (the owner holds the slot: no lock). At
 * registration the store publishes the value on the registry handle as a unique
 * attachment whose value *is* the hash (no allocation of its own) - from a registry
 * observer of the store, under the new handle's shard lock, so the value is there before
 * the events manager's Create for that handle becomes visible (Create broadcasts are
 * deferred to the end of the registration call, kvbm__defer_run). The observer finds the
 * slot through a thread-local set by kvbm__store_register around its registry call. A
 * handle that already existed (reuse) keeps the value its creator published. */
#include <pthread.h>

#include "store/store_int.h"
#include "registry/registry_int.h"
#include "kvbm/tokens.h"

_Static_assert(sizeof(void *) >= sizeof(uint64_t), "the tokens_hash rides in a pointer");

static kvbm_attach_type rth_type;
static pthread_once_t   rth_once = PTHREAD_ONCE_INIT;
static void rth_type_init(void)
{
    if (kvbm_attach_type_register("kvbm.router_tokens_hash", NULL, &rth_type) != KVBM_OK) rth_type = 0;
}

/* The registration in progress on this thread (kvbm__store_register), or NULL. */
static _Thread_local struct kvbm__rth_ctx *tl_ctx;

static kvbm_status rth_observer(void *ctx, kvbm_handle *h)
{
    struct kvbm__rth_ctx *mc = tl_ctx;
    struct kvbm__store *s = ctx;
    if (mc == NULL || mc->store != s) return KVBM_OK; /* not a registration of this store */
    kvbm_plh hash = kvbm_handle_seq_hash(h);
    /* creations come in input order: scan forward from the last one */
    for (size_t k = mc->cursor; k < mc->n; k++) {
        if (!kvbm_plh_eq(mc->hashes[k], hash)) continue;
        mc->cursor = k + 1;
        const struct kvbm__rth *e = &s->rth[mc->slot_ids[k]];
        if (!kvbm_plh_eq(e->plh, hash)) return KVBM_OK; /* staged without tokens */
        return kvbm_handle_attach_unique(h, rth_type, (void *)(uintptr_t)e->tokens_hash);
    }
    return KVBM_OK;
}

kvbm_status kvbm__store_router_enable(struct kvbm__store *s, const char *lora_name)
{
    pthread_once(&rth_once, rth_type_init);
    if (rth_type == 0) return KVBM_FAIL(KVBM_ENOMEM, "router_tokens_hash: no attachment type");
    s->rth = kvbm__calloc(s->n, sizeof *s->rth);
    if (s->rth == NULL) return KVBM_FAIL(KVBM_ENOMEM, "router_tokens_hash: out of memory for %u blocks", s->n);
    s->rth_seed = kvbm_router_seed(lora_name);
    kvbm_registry_observer obs = { rth_observer, s, "router_tokens_hash" };
    kvbm_status st = kvbm_registry_add_observer(s->registry, &obs, &s->rth_obs);
    if (st != KVBM_OK) {
        kvbm__free(s->rth);
        s->rth = NULL;
    }
    return st;
}

void kvbm__store_router_disable(struct kvbm__store *s)
{
    if (s->rth != NULL && s->rth_obs != 0) {
        (void)kvbm_registry_remove_observer(s->registry, s->rth_obs);
        s->rth_obs = 0;
    }
}

void kvbm__store_router_complete(struct kvbm__store *s, uint32_t id, const struct kvbm_token_block *tb)
{
    struct kvbm__rth *e = &s->rth[id];
    e->plh = kvbm_token_block_plh(tb);
    e->tokens_hash = kvbm_token_block_salt(tb) == s->rth_seed
                         ? kvbm_token_block_hash(tb) /* same bytes, same seed */
                         : kvbm_tokens_block_hash(kvbm_token_block_tokens(tb),
                                                  kvbm_token_block_size(tb), s->rth_seed);
}

void kvbm__store_router_begin(struct kvbm__rth_ctx *c) { tl_ctx = c; }
void kvbm__store_router_end(void) { tl_ctx = NULL; }

static void read_th(void *ctx, void *value) { *(uint64_t *)ctx = (uint64_t)(uintptr_t)value; }

bool kvbm_handle_router_tokens_hash(kvbm_handle *h, uint64_t *out)
{
    if (h == NULL || out == NULL || rth_type == 0) return false;
    return kvbm_handle_with_unique(h, rth_type, read_th, out);
}
