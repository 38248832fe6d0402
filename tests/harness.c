/* tests/harness.c - runner for KVBM_TEST cases (see harness.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

#include "harness.h"

#define MAX_TESTS 1024
struct test_case { const char *name; kvbm_test_fn fn; const char *file; };
static struct test_case cases[MAX_TESTS];
static int n_cases;
_Thread_local int kvbm_test_failed_flag;
static int current_failed; /* set from any thread; read after the case */

void kvbm_test_register(const char *name, kvbm_test_fn fn, const char *file)
{
    if (n_cases >= MAX_TESTS) { fprintf(stderr, "too many tests\n"); exit(2); }
    cases[n_cases].name = name; cases[n_cases].fn = fn; cases[n_cases].file = file;
    n_cases++;
}

void kvbm_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stdout, "    FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    kvbm_test_failed_flag = 1;
    __atomic_store_n(&current_failed, 1, __ATOMIC_SEQ_CST);
}

uint64_t test_seed(void)
{
    const char *s = getenv("KVBM_TEST_SEED");
    if (s != NULL && *s) return strtoull(s, NULL, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec;
}

bool test_under_sanitizer(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return true;
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return true;
#  else
    return false;
#  endif
#else
    return false;
#endif
}

int main(int argc, char **argv)
{
    const char *only[64];
    int n_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0) {
            for (int k = 0; k < n_cases; k++) printf("%s\n", cases[k].name);
            return 0;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc && n_only < 64) {
            only[n_only++] = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--list] [--only NAME]...\n", argv[0]);
            return 2;
        }
    }
    /* cases run in registration order (constructors: link order, file order within a file) */
    int passed = 0, failed = 0;
    for (int k = 0; k < n_cases; k++) {
        if (n_only > 0) {
            int sel = 0;
            for (int j = 0; j < n_only; j++) if (strcmp(only[j], cases[k].name) == 0) sel = 1;
            if (!sel) continue;
        }
        kvbm_test_failed_flag = 0;
        __atomic_store_n(&current_failed, 0, __ATOMIC_SEQ_CST);
        fflush(stdout);
        cases[k].fn();
        if (__atomic_load_n(&current_failed, __ATOMIC_SEQ_CST)) {
            printf("[FAIL] %s (%s)\n", cases[k].name, cases[k].file);
            failed++;
        } else {
            printf("[ ok ] %s\n", cases[k].name);
            passed++;
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
