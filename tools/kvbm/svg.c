/* tools/kvbm/svg.c - the miss-ratio-curve plot as a standalone SVG (no dependencies). */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "sweep.h"
#include "util.h"

enum { W = 860, H = 520, ML = 80, MR = 180, MT = 56, MB = 64 };

/* Colour, width and dash per backend: backends often give identical curves (LRU, lineage
 * and hashmap under reverse release), so wide solid lines sit under narrow dashed ones. */
static const struct { const char *colour, *width, *dash; } styles[CLI_BACKEND_COUNT] = {
    { "#1f77b4", "6", "none" },  /* lineage */
    { "#17becf", "2", "none" },  /* lineage-fifo */
    { "#d62728", "3", "10 5" },  /* lru */
    { "#2ca02c", "2", "none" },  /* multi-lru */
    { "#9467bd", "2", "2 4" }    /* hashmap */
};

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

typedef struct axis { double lo, hi; bool log; } axis;

static double map_x(const axis *a, double v)
{
    double t = a->log ? (log2(v) - log2(a->lo)) / (log2(a->hi) - log2(a->lo))
                      : (v - a->lo) / (a->hi - a->lo);
    if (!(a->hi > a->lo)) t = 0.5;
    return ML + t * (W - ML - MR);
}
static double map_y(double ymax, double v) { return MT + (1.0 - v / ymax) * (H - MT - MB); }

static void fmt_cap(char *buf, size_t len, double v)
{
    if (v >= 1048576 && fmod(v, 1048576) == 0) snprintf(buf, len, "%.0fMi", v / 1048576);
    else if (v >= 1024 && fmod(v, 1024) == 0) snprintf(buf, len, "%.0fKi", v / 1024);
    else snprintf(buf, len, "%.0f", v);
}

int cli_svg_write_mrc(const char *path, const char *title, const cli_replay_result *r, size_t n,
                       double bound, char *err, size_t errlen)
{
    if (n == 0) return cli_fail(err, errlen, "nothing to plot");
    FILE *f = fopen(path, "w");
    if (f == NULL) return cli_fail(err, errlen, "cannot write '%s': %s", path, strerror(errno));

    axis ax = { (double)r[0].capacity, (double)r[0].capacity, false };
    double ymaxv = bound > 0 ? bound : 0;
    for (size_t i = 0; i < n; i++) {
        double c = (double)r[i].capacity;
        if (c < ax.lo) ax.lo = c;
        if (c > ax.hi) ax.hi = c;
        if (r[i].hit_rate > ymaxv) ymaxv = r[i].hit_rate;
    }
    ax.log = ax.hi >= 8 * ax.lo;
    double ystep = ymaxv > 0.5 ? 0.1 : ymaxv > 0.2 ? 0.05 : ymaxv > 0.08 ? 0.02 : 0.01;
    double ymax = ceil((ymaxv + 1e-9) / ystep) * ystep;
    if (ymax < ystep) ymax = ystep;
    if (ymax > 1.0) ymax = 1.0;

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H, W, H);
    fputs("<text x=\"", f);
    fprintf(f, "%d\" y=\"24\" font-size=\"15\" font-weight=\"bold\">kvbm miss-ratio curve: ", ML);
    const char *slash = strrchr(title, '/');
    xml_text(f, slash != NULL && slash[1] != '\0' ? slash + 1 : title);
    fputs("</text>\n", f);
    if (n > 0)
        fprintf(f, "<text x=\"%d\" y=\"42\" fill=\"#555\">block size %u, duplication allow, "
                   "tracker %s, release %s; hit rate = blocks hit / blocks requested</text>\n",
                ML, r[0].block_size, cli_tracker_name(r[0].tracker),
                r[0].release_order == CLI_RELEASE_FORWARD ? "forward" : "reverse");

    /* grid + y axis */
    for (double y = 0; y <= ymax + 1e-9; y += ystep) {
        double py = map_y(ymax, y);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", ML, py,
                W - MR, py);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.0f%%</text>\n", ML - 6,
                py + 4, y * 100);
    }
    /* x ticks: the distinct capacities (thinned to at most 12 labels) */
    size_t nt = 0;
    double ticks[64];
    for (size_t i = 0; i < n && nt < 64; i++) {
        bool seen = false;
        for (size_t j = 0; j < nt; j++) seen = seen || ticks[j] == (double)r[i].capacity;
        if (!seen) ticks[nt++] = (double)r[i].capacity;
    }
    size_t every = nt > 12 ? (nt + 11) / 12 : 1;
    for (size_t i = 0; i < nt; i++) {
        double px = map_x(&ax, ticks[i]);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>\n", px, MT,
                px, H - MB);
        if (i % every == 0) {
            char lab[32];
            fmt_cap(lab, sizeof lab, ticks[i]);
            fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", px,
                    H - MB + 18, lab);
        }
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n",
            ML, MT, W - ML - MR, H - MT - MB);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">capacity (blocks%s)</text>\n",
            ML + (W - ML - MR) / 2, H - 20, ax.log ? ", log scale" : "");
    fprintf(f, "<text transform=\"translate(22,%d) rotate(-90)\" text-anchor=\"middle\">hit rate"
               "</text>\n", MT + (H - MT - MB) / 2);

    if (bound >= 0) {
        double py = map_y(ymax, bound);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#888\" "
                   "stroke-dasharray=\"6 4\"/>\n", ML, py, W - MR, py);
    }

    /* one polyline per backend, in first-appearance order */
    int ly = MT + 10;
    bool done[CLI_BACKEND_COUNT] = { false };
    for (size_t i = 0; i < n; i++) {
        cli_backend b = r[i].backend;
        if ((unsigned)b >= CLI_BACKEND_COUNT || done[b]) continue;
        done[b] = true;
        const char *col = styles[b].colour;
        fprintf(f, "<g><title>%s</title>\n<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" "
                   "stroke-dasharray=\"%s\" stroke-opacity=\"0.85\" points=\"",
                cli_backend_name(b), col, styles[b].width, styles[b].dash);
        for (size_t j = i; j < n; j++)
            if (r[j].backend == b)
                fprintf(f, "%.1f,%.1f ", map_x(&ax, (double)r[j].capacity), map_y(ymax, r[j].hit_rate));
        fputs("\"/>\n", f);
        for (size_t j = i; j < n; j++)
            if (r[j].backend == b)
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s @ %llu: "
                           "%.2f%%</title></circle>\n",
                        map_x(&ax, (double)r[j].capacity), map_y(ymax, r[j].hit_rate), col,
                        cli_backend_name(b), (unsigned long long)r[j].capacity,
                        100.0 * r[j].hit_rate);
        fputs("</g>\n", f);
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"%s\" "
                   "stroke-dasharray=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>\n",
                W - MR + 10, ly, W - MR + 40, ly, col, styles[b].width, styles[b].dash, W - MR + 46,
                ly + 4, cli_backend_name(b));
        ly += 20;
    }
    if (bound >= 0)
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\" "
                   "stroke-dasharray=\"6 4\"/><text x=\"%d\" y=\"%d\">infinite cache</text>\n",
                W - MR + 14, ly, W - MR + 40, ly, W - MR + 46, ly + 4);
    fputs("</svg>\n", f);
    if (fclose(f) != 0) return cli_fail(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    return 0;
}
