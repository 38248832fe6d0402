/* examples/quickstart.c - the README's example as a complete program: a registry and a
 * manager, two blocks allocated, staged with the hashes of a token prompt, registered,
 * released into the cache and matched again. Every status is checked.
 *
 *   cc -Wall -Wextra quickstart.c $(pkg-config --cflags --libs kvbm) -o quickstart
 *
 * Built and run by the test suite (examples/CMakeLists.txt). Exit status 0 on success. */
#include <stdio.h>

#include <kvbm/kvbm.h>

/* On error: print the call, the status and the library's detail message, then fail. */
#define CHECK(call)                                                                       \
    do {                                                                                  \
        kvbm_status st_ = (call);                                                         \
        if (st_ != KVBM_OK) {                                                             \
            fprintf(stderr, "%s: %s (%s)\n", #call, kvbm_strerror(st_), kvbm_last_error()); \
            return 1;                                                                     \
        }                                                                                 \
    } while (0)

enum { BLOCK_SIZE = 16, N = 2 };

/* Everything between create and destroy, so that main() can always clean up. */
static int run(kvbm_manager *m)
{
    /* The hashes (PLHs) of the prompt's two complete blocks of 16 tokens each. */
    uint32_t tokens[N * BLOCK_SIZE];
    for (uint32_t i = 0; i < N * BLOCK_SIZE; i++) tokens[i] = 1000 + i;
    kvbm_plh h[N];
    size_t nb;
    CHECK(kvbm_tokens_hash_blocks(tokens, N * BLOCK_SIZE, BLOCK_SIZE, 0, NULL, NULL, NULL, h, N, &nb));

    kvbm_mutable *mb[N];
    CHECK(kvbm_manager_allocate(m, N, mb, NULL, NULL)); /* all-or-nothing */
    /* ... the inference engine fills these blocks' KV cache here ... */
    kvbm_complete *cb[N];
    for (size_t i = 0; i < N; i++) CHECK(kvbm_mutable_stage(mb[i], h[i], BLOCK_SIZE, &cb[i], NULL, NULL));
    kvbm_block *blk[N];
    CHECK(kvbm_manager_register_blocks(m, cb, N, blk));
    CHECK(kvbm_block_release_many(blk, N)); /* cached: still matchable */

    kvbm_block *hit[N];
    size_t matched;
    CHECK(kvbm_manager_match_blocks(m, h, N, hit, &matched));
    printf("matched %zu of %d cached blocks; %llu blocks available\n", matched, N,
           (unsigned long long)kvbm_manager_available_blocks(m));
    CHECK(kvbm_block_release_many(hit, matched));
    return matched == N ? 0 : 1;
}

int main(void)
{
    kvbm_registry *reg;
    CHECK(kvbm_registry_create(NULL, &reg));
    kvbm_manager_config cfg = KVBM_MANAGER_CONFIG_INIT;
    cfg.registry = reg;
    cfg.block_count = 1024;
    cfg.block_size = BLOCK_SIZE;
    kvbm_manager *m;
    kvbm_status st = kvbm_manager_create(&cfg, &m);
    kvbm_registry_release(reg); /* the manager holds its own reference */
    if (st != KVBM_OK) {
        fprintf(stderr, "kvbm_manager_create: %s (%s)\n", kvbm_strerror(st), kvbm_last_error());
        return 1;
    }
    int rc = run(m);
    kvbm_manager_destroy(m);
    return rc;
}
