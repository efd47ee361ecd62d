/*
 * runtime_provided.c: the OS-only runtimes provided.al2023 and provided.al2 (R6): the zip's
 * own executable "bootstrap" is the runtime, started unchanged, speaking the Runtime API.
 *
 * What it is not: an Amazon Linux: the bootstrap runs on this machine's system, so a binary
 * built for Amazon Linux runs when this machine can run it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lambda/lam_int.h"

static const char *const names[] = { "provided.al2023", "provided.al2", NULL };

static int provided_argv(const struct lam *l, const char *task_root, const char *argv[5],
                         char *buf, size_t buflen, const char **type, char *msg,
                         size_t msglen)
{
    char *path = buf;
    (void)l;
    snprintf(path, buflen, "%s/bootstrap", task_root);
    if (access(path, F_OK) != 0) {
        /* Lambda's words, with this machine's paths. */
        *type = "Runtime.InvalidEntrypoint";
        snprintf(msg, msglen, "Couldn't find valid bootstrap(s): [%s]", path);
        return -1;
    }
    if (access(path, X_OK) != 0) {
        *type = "Runtime.InvalidEntrypoint";
        snprintf(msg, msglen, "fork/exec %s: %s", path, strerror(EACCES));
        return -1;
    }
    argv[0] = path;
    argv[1] = NULL;
    return 0;
}

const struct lam__runtime lam__runtime_provided = {
    .family = "provided",
    .names = names,
    .argv = provided_argv,
};
