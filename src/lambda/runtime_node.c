/*
 * runtime_node.c: the nodejs20.x runtime (R6): the machine's node runs the bundled
 * runtimes/node/bootstrap.mjs, which loads the handler (.js, .mjs or .cjs) from
 * LAMBDA_TASK_ROOT and speaks the Runtime API.
 *
 * What it is not: the bootstrap itself (runtimes/node/bootstrap.mjs).
 */
#include <stdio.h>
#include <unistd.h>

#include "lambda/lam_int.h"

static const char *const names[] = { "nodejs20.x", NULL };

static int node_argv(const struct lam *l, const char *task_root, const char *argv[5],
                     char *buf, size_t buflen, const char **type, char *msg,
                     size_t msglen)
{
    char *script = buf;
    (void)task_root;
    snprintf(script, buflen, "%s/node/bootstrap.mjs", l->runtimes_dir);
    if (!l->runtimes_dir[0] || access(script, R_OK) != 0) {
        *type = "Runtime.InvalidEntrypoint";
        snprintf(msg, msglen, "The node bootstrap %s is missing (see --lambda-runtimes)",
                 l->runtimes_dir[0] ? script : "runtimes/node/bootstrap.mjs");
        return -1;
    }
    if (!l->node[0]) {
        *type = "Runtime.InvalidEntrypoint";
        snprintf(msg, msglen, "No node interpreter was found (see sluice serve --lambda-node)");
        return -1;
    }
    argv[0] = l->node;
    argv[1] = script;
    argv[2] = NULL;
    return 0;
}

const struct lam__runtime lam__runtime_node = {
    .family = "node",
    .names = names,
    .argv = node_argv,
};
