/*
 * runtime_python.c: the python3.11 and python3.12 runtimes (R6): the machine's python3 runs
 * the bundled runtimes/python/bootstrap.py, which imports the handler module from
 * LAMBDA_TASK_ROOT and speaks the Runtime API.
 *
 * What it is not: the bootstrap itself (runtimes/python/bootstrap.py). Both names run the same
 * interpreter: a machine has one python3, and code written for either runs on it unless it
 * uses what only the other has.
 */
#include <stdio.h>
#include <unistd.h>

#include "lambda/lam_int.h"

static const char *const names[] = { "python3.11", "python3.12", NULL };

static int python_argv(const struct lam *l, const char *task_root, const char *argv[5],
                       char *buf, size_t buflen, const char **type, char *msg,
                       size_t msglen)
{
    char *script = buf;
    (void)task_root;
    snprintf(script, buflen, "%s/python/bootstrap.py", l->runtimes_dir);
    if (!l->runtimes_dir[0] || access(script, R_OK) != 0) {
        *type = "Runtime.InvalidEntrypoint";
        snprintf(msg, msglen, "The python bootstrap %s is missing (see --lambda-runtimes)",
                 l->runtimes_dir[0] ? script : "runtimes/python/bootstrap.py");
        return -1;
    }
    if (!l->python[0]) {
        *type = "Runtime.InvalidEntrypoint";
        snprintf(msg, msglen, "No python3 interpreter was found (see sluice serve "
                 "--lambda-python)");
        return -1;
    }
    /* -u: unbuffered output, so what the function prints reaches its log in order. */
    argv[0] = l->python;
    argv[1] = "-u";
    argv[2] = script;
    argv[3] = NULL;
    return 0;
}

const struct lam__runtime lam__runtime_python = {
    .family = "python",
    .names = names,
    .argv = python_argv,
};
