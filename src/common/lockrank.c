/* src/common/lockrank.c - ranked mutexes and the debug lock-rank checker.
 *
 * Each thread keeps a small stack of the ranks it holds. Acquiring a lock whose rank is
 * not strictly greater than the highest held rank is an inversion of the global order
 * (registry shard < attachments < store < tracker < events < metrics): the checker prints
 * both ranks and aborts, so a test can provoke it in a child process. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

int kvbm__mutex_init(kvbm_mutex *m, enum kvbm_lock_rank rank)
{
    m->rank = (uint8_t)rank;
    return pthread_mutex_init(&m->mtx, NULL);
}

void kvbm__mutex_destroy(kvbm_mutex *m) { pthread_mutex_destroy(&m->mtx); }

#ifdef KVBM_LOCK_RANK_CHECK
#define KVBM_RANK_STACK 32
static _Thread_local uint8_t rank_stack[KVBM_RANK_STACK];
static _Thread_local int     rank_depth;

static const char *rank_name(uint8_t r)
{
    static const char *names[] = { "none", "registry", "attachments", "store", "tracker",
                                   "events", "metrics" };
    return r < sizeof names / sizeof names[0] ? names[r] : "?";
}

void kvbm__rank_acquire(uint8_t rank)
{
    if (rank == KVBM_RANK_NONE) return;
    for (int i = 0; i < rank_depth; i++) {
        if (rank_stack[i] >= rank) {
            fprintf(stderr, "kvbm: lock order violation: acquiring %s (rank %u) while holding "
                    "%s (rank %u)\n", rank_name(rank), rank, rank_name(rank_stack[i]), rank_stack[i]);
            fflush(stderr);
            abort();
        }
    }
    if (rank_depth < KVBM_RANK_STACK) rank_stack[rank_depth] = rank;
    rank_depth++;
}

void kvbm__rank_release(uint8_t rank)
{
    if (rank == KVBM_RANK_NONE) return;
    /* locks may be released out of order: remove the topmost entry with this rank */
    for (int i = (rank_depth < KVBM_RANK_STACK ? rank_depth : KVBM_RANK_STACK) - 1; i >= 0; i--) {
        if (rank_stack[i] == rank) {
            for (int j = i; j + 1 < rank_depth && j + 1 < KVBM_RANK_STACK; j++)
                rank_stack[j] = rank_stack[j + 1];
            rank_depth--;
            return;
        }
    }
    fprintf(stderr, "kvbm: lock rank release of %s without acquire\n", rank_name(rank));
    abort();
}
#endif
