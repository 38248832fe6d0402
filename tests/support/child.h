/* tests/support/child.h - run a function in a forked child (for tests that expect an abort). */
#ifndef KVBM_TEST_CHILD_H
#define KVBM_TEST_CHILD_H

/* Flush stdio, fork, run fn() in the child and _exit(0) if it returns; return the child's
 * waitpid() status (test with WIFSIGNALED/WTERMSIG or WIFEXITED/WEXITSTATUS). */
int test_run_in_child(void (*fn)(void));

#endif
