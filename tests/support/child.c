/* tests/support/child.c - see child.h. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

int test_run_in_child(void (*fn)(void))
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}
