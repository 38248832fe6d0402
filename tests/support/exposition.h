/* tests/support/exposition.h - small checks on Prometheus / OpenMetrics text in tests. */
#ifndef KVBM_TEST_EXPOSITION_H
#define KVBM_TEST_EXPOSITION_H

#include <stdbool.h>
#include <stddef.h>

/* @text has a line exactly equal to @line (without the newline). */
bool expo_has_line(const char *text, const char *line);
/* Number of lines of @text starting with @prefix. */
size_t expo_count_prefix(const char *text, const char *prefix);
/* The "# TYPE name" lines are in strictly increasing name order (byte-wise). */
bool expo_families_sorted(const char *text);
/* The value of the first sample line starting with @series followed by a space (e.g.
 * "kvbm_allocations_total{pool=\"G1\"}"); false if there is none. */
bool expo_value(const char *text, const char *series, double *out);
/* `promtool check metrics` (Debian prometheus) on @text[0..len), through files in the
 * existing directory @dir; prints promtool's output and the input when it fails. Returns
 * promtool's exit code (-1: it could not be run). */
int expo_promtool_check(const char *dir, const char *text, size_t len);

#endif
