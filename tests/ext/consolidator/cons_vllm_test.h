/* tests/ext/consolidator/cons_vllm_test.h - hex and vLLM decode helpers for the egress /
 * e2e tests (static inline). */
#ifndef KVBM_CONS_VLLM_TEST_H
#define KVBM_CONS_VLLM_TEST_H

#include <stdlib.h>

#include "cons_test.h"
#include "kvbm/consolidator_vllm.h"

/* The spec 20 §4.3.4 egress example (the e2e batch at ts 1000.0) and the §4.4 fixtures. */
#define CONS_EGRESS_HEX                                                                                  \
    "93cb408f4000000000009395ab426c6f636b53746f72656491cf000b1091fc91c84bc0940a141e280495ab426c6f636b" \
    "53746f72656491cf001314e0aef99641cf000b1091fc91c84b94323c46500492ac426c6f636b52656d6f76656491cf00" \
    "0b1091fc91c84b00"
#define CONS_SENTINEL_HEX "93cb00000000000000009191b0416c6c426c6f636b73436c6561726564c0"
static const char *const cons_fixture_hex[3] = {
    "93cb408f4000000000009195ab426c6f636b53746f7265649101c0940a141e280400",
    "93cb409f4000000000009195ab426c6f636b53746f72656491020194323c46500400",
    "93cb40a77000000000009192ac426c6f636b52656d6f766564910100",
};

/* Hex -> bytes into @out (cap bytes); returns the length or (size_t)-1. */
static inline size_t cons_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    if (n > cap) return (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return (size_t)-1;
        out[i] = (uint8_t)v;
    }
    return n;
}

static inline void cons_hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = '\0';
}

/* A decode space with every pool as large as the input: always enough (vllm_events.h). */
typedef struct cons_space {
    kvbm_vllm_decode_space sp;
    void                  *mem[6];
} cons_space;

static inline bool cons_space_init(cons_space *s, size_t len)
{
    size_t n = len + 1;
    memset(s, 0, sizeof *s);
    s->mem[0] = s->sp.events = calloc(n, sizeof *s->sp.events);
    s->mem[1] = s->sp.u64 = calloc(n, sizeof *s->sp.u64);
    s->mem[2] = s->sp.tokens = calloc(n, sizeof *s->sp.tokens);
    s->mem[3] = s->sp.block_mm = calloc(n, sizeof *s->sp.block_mm);
    s->mem[4] = s->sp.mm_objects = calloc(n, sizeof *s->sp.mm_objects);
    s->mem[5] = s->sp.chars = calloc(n, 1);
    s->sp.events_cap = s->sp.u64_cap = s->sp.tokens_cap = s->sp.block_mm_cap = s->sp.mm_objects_cap = n;
    s->sp.chars_cap = n;
    for (int i = 0; i < 6; i++)
        if (s->mem[i] == NULL) return false;
    return true;
}

static inline void cons_space_fini(cons_space *s)
{
    for (int i = 0; i < 6; i++) free(s->mem[i]);
}

#endif /* KVBM_CONS_VLLM_TEST_H */
