/* tools/kvbm/simulate_load.c - workloads for `kvbm simulate`: the Mooncake reader
 * (input_length, output_length, hash_ids) and the seeded synthetic workload. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simulate.h"
#include "util.h"

void cli_sim_workload_free(cli_sim_workload *w)
{
    if (w == NULL) return;
    for (size_t i = 0; i < w->n; i++) free(w->req[i].ids);
    free(w->req);
    free(w->name);
    memset(w, 0, sizeof *w);
}

static int push(cli_sim_workload *w, size_t in, size_t out, const uint32_t *ids, size_t n)
{
    if (cli_grow((void **)&w->req, &w->cap, w->n + 1, sizeof *w->req) != 0) return -1;
    cli_sim_request *r = &w->req[w->n];
    r->ids = malloc((n ? n : 1) * sizeof *ids);
    if (r->ids == NULL) return -1;
    if (n) memcpy(r->ids, ids, n * sizeof *ids);
    r->n_ids = n;
    r->input_len = in;
    r->output_len = out;
    w->n++;
    return 0;
}

static int get_len(struct json_object *o, const char *key, size_t *out, char *msg, size_t len)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return cli_fail(msg, len, "missing or non-integer \"%s\"", key);
    int64_t x = json_object_get_int64(v);
    if (x < 0 || x > (1 << 24)) return cli_fail(msg, len, "\"%s\" %lld out of range 0..16777216", key, (long long)x);
    *out = (size_t)x;
    return 0;
}

static int parse_obj(struct json_object *o, cli_sim_workload *w, char *msg, size_t len)
{
    size_t in = 0, out = 0;
    struct json_object *arr;
    if (!json_object_is_type(o, json_type_object)) return cli_fail(msg, len, "not a JSON object");
    if (get_len(o, "input_length", &in, msg, len) || get_len(o, "output_length", &out, msg, len)) return -1;
    if (!json_object_object_get_ex(o, "hash_ids", &arr) || !json_object_is_type(arr, json_type_array))
        return cli_fail(msg, len, "missing \"hash_ids\" array");
    size_t n = json_object_array_length(arr);
    uint32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (ids == NULL) return cli_fail(msg, len, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(arr, i);
        int64_t v = json_object_is_type(e, json_type_int) ? json_object_get_int64(e) : -1;
        if (v < 0 || v > (int64_t)UINT32_MAX) {
            free(ids);
            return cli_fail(msg, len, "hash_ids[%zu] is not an integer in 0..4294967295", i);
        }
        ids[i] = (uint32_t)v;
    }
    int rc = push(w, in, out, ids, n);
    free(ids);
    return rc == 0 ? 0 : cli_fail(msg, len, "out of memory");
}

int cli_sim_parse(const char *name, const char *buf, size_t len, cli_sim_workload *w, char *err,
                  size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->name = strdup(name);
    struct json_tokener *tok = json_tokener_new();
    if (w->name == NULL || tok == NULL) {
        if (tok) json_tokener_free(tok);
        cli_sim_workload_free(w);
        return cli_fail(err, errlen, "out of memory");
    }
    size_t line = 0, pos = 0;
    int rc = 0;
    while (pos < len && rc == 0) {
        const char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - s) : len - pos;
        pos += l + (nl != NULL);
        line++;
        size_t k = 0;
        while (k < l && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r')) k++;
        if (k == l) continue;
        json_tokener_reset(tok);
        struct json_object *o = json_tokener_parse_ex(tok, s, (int)l);
        char msg[200];
        if (o == NULL || json_tokener_get_error(tok) != json_tokener_success) {
            rc = cli_fail(err, errlen, "%s:%zu: malformed JSON", name, line);
        } else if (parse_obj(o, w, msg, sizeof msg) != 0) {
            rc = cli_fail(err, errlen, "%s:%zu: %s", name, line, msg);
        }
        if (o) json_object_put(o);
    }
    json_tokener_free(tok);
    if (rc == 0 && w->n == 0) rc = cli_fail(err, errlen, "%s: no requests", name);
    if (rc != 0) cli_sim_workload_free(w);
    return rc;
}

int cli_sim_load(const char *path, cli_sim_workload *w, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) return cli_fail(err, errlen, "cannot open %s", path);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cli_grow((void **)&buf, &cap, n + 65536, 1) != 0) {
            if (f != stdin) fclose(f);
            free(buf);
            return cli_fail(err, errlen, "out of memory");
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    bool bad = ferror(f);
    if (f != stdin) fclose(f);
    int rc = bad ? cli_fail(err, errlen, "read error on %s", path)
                 : cli_sim_parse(path, buf ? buf : "", n, w, err, errlen);
    free(buf);
    return rc;
}

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

int cli_sim_synthetic(uint64_t seed, size_t n_requests, cli_sim_workload *w, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    char name[64];
    snprintf(name, sizeof name, "synthetic(seed=%llu)", (unsigned long long)seed);
    w->name = strdup(name);
    if (w->name == NULL) return cli_fail(err, errlen, "out of memory");
    uint64_t s = seed;
    uint32_t next_id = 1000, ids[8];
    /* 8 system prompts of 1-2 id blocks shared by ~60% of the requests; the rest unique */
    uint32_t sys[8][2];
    for (int i = 0; i < 8; i++) { sys[i][0] = next_id++; sys[i][1] = next_id++; }
    for (size_t r = 0; r < n_requests; r++) {
        size_t nid = 1 + (size_t)(mix(&s) % 6), k = 0;
        if (mix(&s) % 10 < 6) {
            const uint32_t *p = sys[mix(&s) % 8];
            size_t sh = 1 + (size_t)(mix(&s) % 2);
            for (; k < sh && k < nid; k++) ids[k] = p[k];
        }
        for (; k < nid; k++) ids[k] = next_id++;
        size_t in = (nid - 1) * 512 + 64 + (size_t)(mix(&s) % 448);
        size_t out = 16 + (size_t)(mix(&s) % 240);
        if (push(w, in, out, ids, nid) != 0) {
            cli_sim_workload_free(w);
            return cli_fail(err, errlen, "out of memory");
        }
    }
    return 0;
}
