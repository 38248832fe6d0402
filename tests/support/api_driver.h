/* tests/support/api_driver.h - random legal (and some illegal) API sequences over two
 * managers sharing one registry: the engine of the API fuzz target (tests/fuzz/fuzz_api.c)
 * and of the soak test (tests/hardening/test_soak_stress.c).
 *
 * A world: one registry (TinyLFU tracker), two managers of different backends and tiers,
 * a universe of chained hashes. Actors (one per thread) own handles - mutable, complete,
 * immutable, weak, pin - each tagged with its manager, and apply operations chosen by a
 * random source: a byte string (fuzzer) or a seeded generator (soak). Every operation
 * checks its own contract (status, outputs, what must not have changed); check_invariants
 * runs as one of the operations (concurrently with the others in the soak) and must never
 * fail. At the end the actors release everything and drv_world_final() checks that every
 * block is back, the gauges are 0 and the counters equal the actors' tallies.
 * Harness-free (fuzz targets link it without tests/harness.c): failures go to the
 * world's fail callback. Support files usable by fuzz targets are named api_*.c.
 */
#ifndef KVBM_TEST_API_DRIVER_H
#define KVBM_TEST_API_DRIVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvbm/manager.h"
#include "kvbm/registry.h"
#include "kvbm/tracker.h"

#define DRV_MAXH      12   /* per actor and handle kind */
#define DRV_CHAINS    6
#define DRV_CHAIN_LEN 8
#define DRV_OPS       24   /* operation kinds */

typedef void (*drv_fail_fn)(const char *file, int line, const char *msg);

typedef struct drv_world {
    kvbm_tracker  *tracker;
    kvbm_registry *reg;
    kvbm_manager  *m[2];
    uint32_t       block_size;
    kvbm_plh       universe[DRV_CHAINS][DRV_CHAIN_LEN];
    drv_fail_fn    fail;
    atomic_int     failures;
    /* tallies over all actors, per manager (counters must agree at the end) */
    atomic_ullong  allocs[2], stagings[2], registrations[2], match_ret[2], scan_ret[2];
} drv_world;

typedef struct drv_h { void *h; int mi; } drv_h;

typedef struct drv_actor {
    drv_world     *w;
    int            id;
    uint64_t       rng;
    const uint8_t *bytes;  /* fuzzer input (NULL: rng only) */
    size_t         nbytes, pos;
    drv_h          mut[DRV_MAXH], comp[DRV_MAXH], blk[DRV_MAXH], weak[DRV_MAXH], pin[DRV_MAXH];
    int            nmut, ncomp, nblk, nweak, npin;
    uint64_t       ops[DRV_OPS];  /* operations applied, per kind */
} drv_actor;

/* Build a world: managers of @blocks blocks each with backends @b0/@b1. 0 or -1. */
int  drv_world_init(drv_world *w, kvbm_backend b0, kvbm_backend b1, uint64_t blocks, uint64_t seed,
                    drv_fail_fn fail);
void drv_world_fini(drv_world *w);
void drv_actor_init(drv_actor *a, drv_world *w, int id, uint64_t seed, const uint8_t *bytes, size_t n);
/* One operation. false when the byte input is exhausted (rng actors never end). */
bool drv_step(drv_actor *a);
void drv_actor_release_all(drv_actor *a);
/* After every actor released everything: blocks back, gauges 0, counters == tallies,
 * check_invariants OK, reset_inactive_pool brings every block to the reset pool. */
void drv_world_final(drv_world *w);
const char *drv_op_name(int op);

#endif
