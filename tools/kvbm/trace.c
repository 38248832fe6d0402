/* tools/kvbm/trace.c - Mooncake JSON-lines reader (json-c) and the trace builder. */
#include "trace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "util.h"

int cli_trace_init(cli_trace *t, const char *name)
{
    memset(t, 0, sizeof *t);
    t->name = strdup(name ? name : "trace");
    t->offsets = malloc(16 * sizeof *t->offsets);
    if (t->name == NULL || t->offsets == NULL) {
        cli_trace_free(t);
        return -1;
    }
    t->cap_requests = 15; /* offsets has cap_requests + 1 slots */
    t->offsets[0] = 0;
    return 0;
}

int cli_trace_push(cli_trace *t, const uint32_t *ids, size_t n)
{
    size_t cap_off = t->cap_requests + 1;
    if (cli_grow((void **)&t->offsets, &cap_off, t->n_requests + 2, sizeof *t->offsets) != 0)
        return -1;
    t->cap_requests = cap_off - 1;
    size_t used = t->offsets[t->n_requests];
    if (n > 0) {
        if (cli_grow((void **)&t->ids, &t->cap_ids, used + n, sizeof *t->ids) != 0)
            return -1;
        memcpy(t->ids + used, ids, n * sizeof *ids);
    }
    t->n_requests++;
    t->offsets[t->n_requests] = used + n;
    if (n > t->max_len) t->max_len = n;
    return 0;
}

void cli_trace_free(cli_trace *t)
{
    if (t == NULL) return;
    free(t->name);
    free(t->offsets);
    free(t->ids);
    memset(t, 0, sizeof *t);
}

/* What json-c would accept or alter silently, rejected on the raw text first: a line that
 * does not start with '{' (a bare `null`, `123` or `true` would otherwise read as an
 * unfinished value), single quotes outside strings, "\u0000" inside strings (a key
 * "hash_ids\u0000" would match "hash_ids") and integers beyond 64 bits (json-c clamps
 * them), reported with their text. Returns 0, or -1 with a message in msg. */
static int strict_prescan(const char *line, size_t len, char *msg, size_t msglen)
{
    static const struct { char c; const char *name; } first[] = {
        { 'n', "null" }, { 't', "boolean" }, { 'f', "boolean" }, { '"', "string" }, { '[', "array" },
    };
    if (len == 0 || line[0] != '{') {
        const char *what = "an invalid token";
        if (len > 0 && (line[0] == '-' || (line[0] >= '0' && line[0] <= '9'))) what = "number";
        for (size_t k = 0; len > 0 && k < sizeof first / sizeof first[0]; k++)
            if (line[0] == first[k].c) what = first[k].name;
        return cli_fail(msg, msglen, "expected a JSON object, got %s", what);
    }
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = line[i];
        if (in_str) {
            if (c == '\\' && i + 1 < len) {
                if (line[i + 1] == 'u' && i + 5 < len && memcmp(line + i + 2, "0000", 4) == 0)
                    return cli_fail(msg, msglen, "malformed JSON: \\u0000 in a string");
                i++;
            } else if (c == '"') {
                in_str = false;
            }
            continue;
        }
        if (c == '"') { in_str = true; continue; }
        if (c == '\'')
            return cli_fail(msg, msglen, "malformed JSON: single quotes (JSON strings use \")");
        if (c == '-' || (c >= '0' && c <= '9')) { /* a number: integers must fit in 64 bits */
            size_t j = i + (c == '-'), d0 = j;
            while (j < len && line[j] >= '0' && line[j] <= '9') j++;
            bool integer = j == len || (line[j] != '.' && line[j] != 'e' && line[j] != 'E');
            size_t nd = j - d0;
            while (nd > 1 && line[d0] == '0') { d0++; nd--; }
            const char *lim = c == '-' ? "9223372036854775808" : "18446744073709551615";
            size_t ll = strlen(lim);
            if (integer && (nd > ll || (nd == ll && memcmp(line + d0, lim, ll) > 0)))
                return cli_fail(msg, msglen, "number %.*s is out of range (integers must fit in 64 bits; "
                                      "hash ids are token values, 0..4294967295)", (int)(j - i), line + i);
            i = j - 1;
        }
    }
    return 0;
}

/* Parse one non-blank line into @scratch ids. Returns 0, or -1 with a message in msg. */
static int parse_line(struct json_tokener *tok, const char *line, size_t len,
                      uint32_t **scratch, size_t *scratch_cap, size_t *n_out,
                      char *msg, size_t msglen)
{
    if (strict_prescan(line, len, msg, msglen) != 0) return -1;
    json_tokener_reset(tok);
    struct json_object *obj = json_tokener_parse_ex(tok, line, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    int rc = -1;
    if (obj == NULL || jerr != json_tokener_success) {
        if (jerr == json_tokener_continue)
            cli_fail(msg, msglen, "malformed JSON: unexpected end of line");
        else
            cli_fail(msg, msglen, "malformed JSON: %s", json_tokener_error_desc(jerr));
        goto out;
    }
    size_t end = json_tokener_get_parse_end(tok);
    for (size_t i = end; i < len; i++) {
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
            cli_fail(msg, msglen, "malformed JSON: trailing characters after the object");
            goto out;
        }
    }
    if (!json_object_is_type(obj, json_type_object)) {
        cli_fail(msg, msglen, "expected a JSON object, got %s",
                       json_type_to_name(json_object_get_type(obj)));
        goto out;
    }
    struct json_object *arr;
    if (!json_object_object_get_ex(obj, "hash_ids", &arr)) {
        cli_fail(msg, msglen, "missing \"hash_ids\"");
        goto out;
    }
    if (!json_object_is_type(arr, json_type_array)) {
        cli_fail(msg, msglen, "\"hash_ids\" must be an array, got %s",
                       json_type_to_name(json_object_get_type(arr)));
        goto out;
    }
    size_t n = json_object_array_length(arr);
    if (cli_grow((void **)scratch, scratch_cap, n ? n : 1, sizeof **scratch) != 0) {
        cli_fail(msg, msglen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(e, json_type_int)) {
            cli_fail(msg, msglen,
                           "hash_ids[%zu] is not a non-negative integer (got %s %s)", i,
                           json_type_to_name(json_object_get_type(e)),
                           e ? json_object_to_json_string(e) : "null");
            goto out;
        }
        int64_t sv = json_object_get_int64(e);
        if (sv < 0) {
            cli_fail(msg, msglen, "hash_ids[%zu] = %lld is negative", i, (long long)sv);
            goto out;
        }
        uint64_t v = json_object_get_uint64(e);
        if (v > UINT32_MAX) {
            cli_fail(msg, msglen,
                           "hash_ids[%zu] = %llu is out of range (ids are token values, 0..4294967295)",
                           i, (unsigned long long)v);
            goto out;
        }
        (*scratch)[i] = (uint32_t)v;
    }
    *n_out = n;
    rc = 0;
out:
    json_object_put(obj);
    return rc;
}

int cli_trace_parse(const char *name, const char *buf, size_t len, cli_trace_on_error on_error,
                     FILE *diag, cli_trace *t, char *err, size_t errlen)
{
    if (cli_trace_init(t, name) != 0) return cli_fail(err, errlen, "out of memory");
    struct json_tokener *tok = json_tokener_new();
    uint32_t *scratch = NULL;
    size_t scratch_cap = 0, lineno = 0;
    int rc = -1;
    if (tok == NULL) { cli_fail(err, errlen, "out of memory"); goto out; }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    for (size_t pos = 0; pos < len; ) {
        const char *line = buf + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl != NULL);
        lineno++;
        size_t lead = 0;
        while (lead < ll && (line[lead] == ' ' || line[lead] == '\t' || line[lead] == '\r')) lead++;
        if (lead == ll) continue; /* blank line */
        if (ll > (size_t)INT32_MAX) {
            cli_fail(err, errlen, "%s:%zu: line too long", name, lineno);
            goto out;
        }
        char msg[256];
        size_t n = 0;
        if (memchr(line, '\0', ll) != NULL) {
            cli_fail(msg, sizeof msg, "malformed JSON: NUL byte in line");
        } else if (parse_line(tok, line + lead, ll - lead, &scratch, &scratch_cap, &n, msg,
                              sizeof msg) == 0) {
            if (cli_trace_push(t, scratch, n) != 0) {
                cli_fail(err, errlen, "out of memory");
                goto out;
            }
            continue;
        }
        if (on_error == CLI_TRACE_STOP) {
            cli_fail(err, errlen, "%s:%zu: %s", name, lineno, msg);
            goto out;
        }
        t->skipped++;
        if (diag != NULL) fprintf(diag, "kvbm: %s:%zu: %s (line skipped)\n", name, lineno, msg);
    }
    if (t->n_requests == 0) {
        cli_fail(err, errlen, "%s: trace is empty (no requests%s)", name,
                       t->skipped ? "; every line was malformed" : "");
        goto out;
    }
    rc = 0;
out:
    free(scratch);
    if (tok != NULL) json_tokener_free(tok);
    if (rc != 0) cli_trace_free(t);
    return rc;
}

int cli_trace_load(const char *path, cli_trace_on_error on_error, FILE *diag, cli_trace *t,
                    char *err, size_t errlen)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (f == NULL)
        return cli_fail(err, errlen, "cannot open trace '%s': %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (cli_grow((void **)&buf, &cap, len + 65536, 1) != 0) {
            rc = cli_fail(err, errlen, "out of memory reading '%s'", path);
            break;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) rc = cli_fail(err, errlen, "cannot read trace '%s': %s", path,
                                               strerror(errno ? errno : EIO));
            break;
        }
    }
    if (!is_stdin) fclose(f);
    if (rc == 0)
        rc = cli_trace_parse(is_stdin ? "<stdin>" : path, buf, len, on_error, diag, t, err, errlen);
    free(buf);
    return rc;
}
