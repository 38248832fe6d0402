/* src/metrics/aggregator_int.h - the scrape scratch shared by aggregator.c (sources, emit)
 * and exposition.c (escaping, sorting, text output). Not installed.
 *
 * A scrape works in one kvbm__scrape: the aggregator keeps one spare scrape object (taken
 * with an atomic exchange, given back after the scrape), so steady-state scrapes allocate
 * nothing; concurrent scrapes each get their own. */
#ifndef KVBM_AGGREGATOR_INT_H
#define KVBM_AGGREGATOR_INT_H

#include "internal.h"
#include "kvbm/aggregator.h"

struct kvbm__msrc; /* a registered source (aggregator.c) */

/* One family (distinct name) seen in this scrape. */
typedef struct kvbm__fam {
    const kvbm_metric_desc *desc; /* first descriptor with this name: help and type */
    uint32_t                name_len;
    uint32_t                count; /* samples */
    uint32_t                first; /* bucket start after sorting */
} kvbm__fam;

/* A descriptor pointer seen in this scrape -> its family. */
typedef struct kvbm__famref {
    const kvbm_metric_desc *desc;
    uint32_t                fam;
} kvbm__famref;

/* One label set: `name="escaped",...` bytes in the arena (no braces) and its sort key, the
 * raw label values each followed by a NUL; rank = its position among all label sets of
 * the scrape in label-value order (set when sorting). The built-in source shares one set
 * among its 19 samples. */
typedef struct kvbm__labelset {
    uint32_t lab_off, lab_len;
    uint32_t key_off, key_len;
    uint32_t rank;
} kvbm__labelset;

typedef struct kvbm__sample {
    uint32_t fam;
    uint32_t set;
    double   value;
} kvbm__sample;

struct kvbm_metrics_emitter {
    struct kvbm__scrape *s;
};

typedef struct kvbm__scrape {
    struct kvbm_metrics_emitter emitter;
    struct kvbm__msrc **srcs;     size_t n_srcs, cap_srcs;   /* references held */
    kvbm__fam          *fams;     size_t n_fams, cap_fams;
    kvbm__famref       *refs;     size_t n_refs, cap_refs;
    size_t              ref_hint; /* index of the next expected descriptor in refs */
    kvbm__sample       *samples;  size_t n_samples, cap_samples;
    kvbm__labelset     *sets;     size_t n_sets, cap_sets;
    uint32_t           *order;    size_t cap_order;          /* sorted sample indices + scratch */
    uint32_t           *set_order; size_t cap_set_order;     /* sorted label sets + scratch */
    uint32_t           *fam_order; size_t cap_fam_order;     /* families sorted by name */
    char               *arena;    size_t arena_len, arena_cap;
    /* copy of the external labels taken under the aggregator lock */
    char               *ext;      size_t ext_len, ext_cap;   /* `,name="esc"` per label */
    char               *ext_key;  size_t ext_key_len, ext_key_cap; /* values, NUL after each */
    char               *ext_names; size_t ext_names_len, ext_names_cap; /* names, NUL after each */
    size_t              n_ext;
    bool                oom;
} kvbm__scrape;

/* Output writer: into a fixed buffer (counts what does not fit) or a growable kvbm_text. */
typedef struct kvbm__wr {
    char      *buf;
    size_t     cap;
    size_t     len;
    kvbm_text *grow; /* non-NULL: grow buf (t->data) on demand */
    bool       oom;
} kvbm__wr;

/* Ensure @*p (element size @size) holds at least @need elements; false on ENOMEM. */
bool kvbm__grow(void *p, size_t *cap, size_t need, size_t size);

/* Append @n bytes of @s to the arena-like buffer (@buf, @len, @cap); false on ENOMEM. */
bool kvbm__buf_put(char **buf, size_t *len, size_t *cap, const char *s, size_t n);

/* Escape @n bytes of @s (`\` -> `\\`, newline -> `\n`, and `"` -> `\"` if @quote; invalid
 * UTF-8 -> U+FFFD) and append to the buffer; false on ENOMEM. */
bool kvbm__escape_put(char **buf, size_t *len, size_t *cap, const char *s, size_t n, bool quote);

/* [a-zA-Z_:][a-zA-Z0-9_:]* (metric) / [a-zA-Z_][a-zA-Z0-9_]* (label) */
bool kvbm__valid_metric_name(const char *s);
bool kvbm__valid_label_name(const char *s);

/* The two halves of kvbm_metrics_emit: validate and store a label set (its index in
 * *@set), then add samples carrying it. KVBM_OK, KVBM_EINVAL, KVBM_ENOMEM (s->oom set). */
kvbm_status kvbm__emit_labels(kvbm__scrape *s, const char *metric, const char *const *names,
                              const char *const *values, size_t n, uint32_t *set);
kvbm_status kvbm__emit_value(kvbm__scrape *s, const kvbm_metric_desc *desc, uint32_t set, double value);

/* Sort the scrape's samples and write the exposition (exposition.c). */
void kvbm__expose(kvbm__scrape *s, kvbm_exposition fmt, kvbm__wr *w);

#endif
