/*
 * logs.c: an invocation's log as Lambda writes it, and the tail Invoke returns with LogType
 * Tail.
 *
 * What it is: a bounded buffer per invocation. The environment code appends the START line,
 * the function's output (its stdout and stderr, in the order written) and the END and REPORT
 * lines:
 *   START RequestId: <id> Version: $LATEST
 *   ...
 *   END RequestId: <id>
 *   REPORT RequestId: <id>\tDuration: 2.62 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\t
 *       Max Memory Used: 40 MB\tInit Duration: 138.91 ms\t
 * (one line; Init Duration only on the environment's first invocation, "Status: timeout" or
 * "Status: error" on a failed one). Only the last LAM_LOG_TAIL (4 KB) bytes are ever
 * returned, so the buffer keeps at most twice that and drops the oldest bytes.
 *
 * What it is not: the environments' pipes (env.c). Thread: the caller's; no locks.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lambda/lam_int.h"

#define LOG_KEEP (2 * LAM_LOG_TAIL)

void lam__log_init(struct lam__log *g)
{
    g->cap = LOG_KEEP;
    g->p = xmalloc(g->cap);
    g->len = 0;
}

void lam__log_release(struct lam__log *g)
{
    free(g->p);
    g->p = NULL;
    g->len = g->cap = 0;
}

void lam__log_append(struct lam__log *g, const char *p, size_t n)
{
    if (!g->p) {
        return;
    }
    if (n >= g->cap) {
        /* Only the newest bytes can be in the tail. */
        p += n - g->cap;
        n = g->cap;
        g->len = 0;
    }
    if (g->len + n > g->cap) {
        size_t drop = g->len + n - g->cap;
        memmove(g->p, g->p + drop, g->len - drop);
        g->len -= drop;
    }
    memcpy(g->p + g->len, p, n);
    g->len += n;
}

void lam__log_printf(struct lam__log *g, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    lam__log_append(g, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

char *lam__log_tail(const struct lam__log *g)
{
    size_t n = g->len > LAM_LOG_TAIL ? LAM_LOG_TAIL : g->len;
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);
    sl_base64_encode(g->p + g->len - n, n, out);
    return out;
}

void lam__log_report(struct lam__log *g, const char *request_id, double duration_ms,
                     unsigned memory_mb, unsigned used_mb, double init_ms, const char *status)
{
    char init[64] = "", st[96] = "";
    unsigned long long billed = (unsigned long long)ceil(duration_ms);
    if (billed == 0) {
        billed = 1;
    }
    if (init_ms > 0) {
        snprintf(init, sizeof init, "Init Duration: %.2f ms\t", init_ms);
    }
    if (status) {
        snprintf(st, sizeof st, "Status: %s\t", status);
    }
    lam__log_printf(g,
                    "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %llu ms\t"
                    "Memory Size: %u MB\tMax Memory Used: %u MB\t%s%s\n",
                    request_id, duration_ms, billed, memory_mb, used_mb, init, st);
}
