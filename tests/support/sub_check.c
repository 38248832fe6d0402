/* tests/support/sub_check.c - see sub_check.h. */
#include "sub_check.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "support/wire_vectors.h"

bool sub_result_read(test_proc *sub, const char *end_cmd, sub_result *r)
{
    char line[512];
    memset(r, 0, sizeof *r);
    if (!test_proc_write(sub, end_cmd) || !test_proc_expect(sub, "RESULT ", line, sizeof line, 60000))
        return false;
    fprintf(stderr, "  subscriber: %s\n", line);
    return sscanf(line, "RESULT unique=%ld dups=%ld vectors=%ld bad=%ld inorder=%ld max=%ld total=%ld err=%127s",
                  &r->unique, &r->dups, &r->vectors, &r->bad, &r->inorder, &r->max, &r->total, r->err) == 8;
}

int publish_range(kvbm_publisher *p, const char *subject, uint64_t from, uint64_t to, uint64_t stride,
                  bool vectors)
{
    uint8_t buf[256];
    int fails = 0;
    for (int v = 0; vectors && v < 3; v++) {
        size_t n = test_wire_unhex(test_wire_spec_hex[v], buf, sizeof buf);
        fails += kvbm_publisher_publish(p, subject, buf, n) != KVBM_OK;
    }
    for (uint64_t i = from; i < to; i += stride) {
        size_t n = test_wire_message(i, buf, sizeof buf);
        fails += kvbm_publisher_publish(p, subject, buf, n) != KVBM_OK;
    }
    return fails;
}

typedef struct pub_job {
    kvbm_publisher *p;
    const char     *subject;
    int             t, threads, per_thread, fails;
} pub_job;

static void *pub_job_run(void *arg)
{
    pub_job *j = arg;
    j->fails = publish_range(j->p, j->subject, (uint64_t)j->t, (uint64_t)j->threads * (uint64_t)j->per_thread,
                             (uint64_t)j->threads, false);
    return NULL;
}

int publish_concurrently(kvbm_publisher *p, const char *subject, int threads, int per_thread,
                         void (*probe)(kvbm_publisher *p))
{
    pthread_t th[16];
    pub_job jobs[16];
    if (threads < 1 || threads > 16) return -1;
    int started = 0, fails = 0;
    for (; started < threads; started++) {
        jobs[started] = (pub_job){ p, subject, started, threads, per_thread, 0 };
        if (pthread_create(&th[started], NULL, pub_job_run, &jobs[started]) != 0) break;
    }
    for (int k = 0; k < 50 && probe; k++) probe(p);
    for (int t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
        fails += jobs[t].fails;
    }
    return started == threads ? fails : -1;
}
