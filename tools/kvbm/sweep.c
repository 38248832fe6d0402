/* tools/kvbm/sweep.c - run the backend x capacity grid; write the miss-ratio-curve CSV. */
#include "sweep.h"

#include <errno.h>
#include <string.h>

#include "format.h"
#include "util.h"

static void progress(FILE *tty, size_t done, size_t total, const char *what, uint64_t cap)
{
    if (tty == NULL) return;
    enum { WIDTH = 30 };
    size_t fill = total ? done * WIDTH / total : WIDTH;
    char bar[WIDTH + 1];
    for (size_t i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(tty, "\r[%s] %zu/%zu %-13s %-10llu", bar, done, total, what, (unsigned long long)cap);
    if (done == total) fputs("\r\033[K", tty);
    fflush(tty);
}

int cli_sweep_run(const cli_replay_hashed *h, const uint64_t *caps, size_t ncaps,
                   const cli_backend *backends, size_t nb, cli_release_order order,
                   uint32_t repeat, cli_tracker tracker, bool breakdown, FILE *tty, cli_replay_result *out, char *err, size_t errlen)
{
    size_t total = ncaps * nb, done = 0;
    for (size_t b = 0; b < nb; b++) {
        for (size_t c = 0; c < ncaps; c++) {
            progress(tty, done, total, cli_backend_name(backends[b]), caps[c]);
            cli_replay_config cfg = { backends[b], caps[c], order, repeat, tracker, breakdown };
            int rc = cli_replay_run(h, &cfg, &out[b * ncaps + c], err, errlen);
            if (rc != 0) {
                if (tty != NULL) fputs("\r\033[K", tty);
                return rc;
            }
            done++;
        }
    }
    progress(tty, done, total, "", 0);
    return 0;
}

int cli_sweep_write_csv(const char *path, const char *trace, const cli_replay_result *r,
                         size_t n, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) return cli_fail(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    cli_format_csv_header(f);
    for (size_t i = 0; i < n; i++) cli_format_csv_row(f, trace, &r[i]);
    if (fclose(f) != 0) return cli_fail(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    return 0;
}
