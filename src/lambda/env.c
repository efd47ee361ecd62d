/*
 * env.c: execution environments: the child processes that run functions, the queue of
 * invocations waiting for them, and the supervisor thread that watches them.
 *
 * What it is: an environment is one process (and its process group) started for a function's
 * code version by the supervisor thread (fork, then exec): its own process group (a kill takes
 * the whole tree), killed by the kernel when sluice ends, even by SIGKILL (PR_SET_PDEATHSIG,
 * which is why only the long-lived supervisor starts them), signals unblocked and at their
 * defaults, stdin /dev/null, stdout and stderr into one pipe (the function's log), every other
 * descriptor closed, the environment variables of the developer
 * guide ("Defined runtime environment variables") plus the function's Environment. It speaks
 * the Runtime API (runtime_api.c) on a loopback listening socket of its own, 127.0.0.1:<port>
 * in AWS_LAMBDA_RUNTIME_API: the supervisor accepts its connections and hands them to the
 * front door, and the Runtime API handlers tell environments apart by the port a connection
 * came in on (clients build their URLs from host:port, so a path prefix could not).
 *
 * Invocations of a function queue in order. An idle environment (its invocation/next waiting,
 * suspended) takes the oldest one; while invocations wait and the function runs fewer than
 * max_envs environments, more are started. Warm environments are reused; one idle for
 * LAM_IDLE_MS is reaped. The states of an environment, and what moves it:
 *
 *   STARTING --first invocation/next (lam__env_next)--> IDLE
 *   IDLE --an invocation handed over (deliver)--> BUSY
 *   BUSY --response or error (lam__env_finish)--> READY --invocation/next--> IDLE
 *   any --process exit seen by the supervisor (env_died)--> gone
 * A BUSY environment past its deadline, an idle one past LAM_IDLE_MS, a STARTING one past
 * LAM_INIT_TIMEOUT_MS, and every one at shutdown is killed (SIGKILL to its process group); its
 * end is handled when the supervisor sees the process exit: the invocation it held fails as
 * Lambda reports it (Sandbox.Timedout, Runtime.ExitError), and an environment that died before
 * its first invocation/next fails the oldest waiting invocation with its init error.
 *
 * What it is not: the Runtime API's HTTP side (runtime_api.c), Invoke (invoke.c).
 *
 * Invariants: everything here is under l->mu; only the supervisor thread closes an
 * environment's descriptors and frees it, so the descriptors it polls stay valid while it
 * polls; an invocation's done() is called exactly once, after l->mu is released; a suspended
 * invocation/next is resumed before its environment is freed.
 */
#define _GNU_SOURCE /* pidfd_open, close_range, pipe2, accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "lambda/lam_int.h"

enum env_state {
    LAM__ENV_STARTING = 0,  /* spawned, no invocation/next yet */
    LAM__ENV_IDLE,          /* its invocation/next waits (next_req) */
    LAM__ENV_BUSY,          /* running inv */
    LAM__ENV_READY,         /* answered; its next invocation/next has not come yet */
};

struct lam__env {
    struct lam__env *next;          /* l->envs */
    uint64_t id;
    struct lam__fnrt *fn;
    enum env_state state;
    pid_t pid;                      /* also its process group */
    int pidfd;                      /* readable when it exits; -1 when the kernel has none */
    int listen_fd;                  /* its Runtime API address */
    unsigned port;
    int log_fd;                     /* stdout and stderr */
    bool log_eof;
    char code_id[33];
    char revision[37];
    unsigned timeout_s;
    uint64_t t_spawn_ns;
    double init_ms;                 /* spawn to first invocation/next */
    bool init_reported;             /* Init Duration went into a REPORT */
    uint64_t last_used_ns;
    struct http_req *next_req;      /* IDLE: the suspended invocation/next */
    struct lam__inv *inv;           /* BUSY */
    uint64_t inv_start_ns;
    uint64_t deadline_ns;
    struct lam__log log;            /* BUSY: the invocation's log */
    char line[1024];                /* a partial output line for sluice's log */
    size_t linelen;
    char *init_error;               /* the body of init/error (heap) */
    uint64_t init_failed_ns;        /* when init/error came */
    bool killed;
    bool retired;                   /* not to be reused: killed when idle */
    bool timed_out;
    bool init_timed_out;
    bool remove_code;               /* its code was dropped: remove it when the last user goes */
};

/* A function's invocations waiting for an environment, and its counts. */
struct lam__fnrt {
    struct lam__fnrt *next;         /* l->fns */
    char name[LAM_NAME_MAX + 1];
    struct lam__inv *head;
    struct lam__inv *tail;
    unsigned queued;
    unsigned n_envs;                /* environments alive */
    unsigned n_starting;            /* ... of which STARTING */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void wake(struct lam *l)
{
    char c = 1;
    if (l->wake[1] >= 0 && write(l->wake[1], &c, 1) < 0) {
        /* A full pipe already wakes the supervisor. */
    }
}

/* ---- function runtime state ---- */

static struct lam__fnrt *fnrt_get(struct lam *l, const char *name, bool create)
{
    struct lam__fnrt *f;
    for (f = l->fns; f; f = f->next) {
        if (strcmp(f->name, name) == 0) {
            return f;
        }
    }
    if (!create) {
        return NULL;
    }
    f = xcalloc(1, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->next = l->fns;
    l->fns = f;
    return f;
}

static void queue_push(struct lam__fnrt *f, struct lam__inv *inv)
{
    inv->next = NULL;
    if (f->tail) {
        f->tail->next = inv;
    }
    else {
        f->head = inv;
    }
    f->tail = inv;
    f->queued++;
}

/* Removes and returns the oldest queued invocation of revision rev (NULL: any). */
static struct lam__inv *queue_take(struct lam__fnrt *f, const char *rev)
{
    struct lam__inv **pp = &f->head, *prev = NULL;
    for (struct lam__inv *i = f->head; i; prev = i, i = i->next) {
        if (!rev || strcmp(i->conf.revision, rev) == 0) {
            *pp = i->next;
            if (f->tail == i) {
                f->tail = prev;
            }
            f->queued--;
            i->next = NULL;
            return i;
        }
        pp = &i->next;
    }
    return NULL;
}

/* ---- completions ---- */

/* Finished invocations wait here until l->mu is released. */
struct done_list {
    struct lam__inv *head;
};

static void done_add(struct done_list *d, struct lam__inv *inv)
{
    inv->next = d->head;
    d->head = inv;
}

static void done_run(struct done_list *d)
{
    while (d->head) {
        struct lam__inv *inv = d->head;
        struct lam_invoke *req = inv->req;
        d->head = inv->next;
        lam__fnconf_release(&inv->conf);
        free(inv);
        req->priv = NULL;
        req->done(req);
    }
}

static void fail_inv(struct done_list *d, struct lam__inv *inv, int rc)
{
    inv->req->outcome = LAM_FAILED;
    inv->req->rc = rc;
    done_add(d, inv);
}

/* ---- the log pipe ---- */

/* Writes complete lines of what an environment printed to sluice's log. */
static void log_lines(struct lam__env *e, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\n' || e->linelen == sizeof e->line - 1) {
            e->line[e->linelen] = '\0';
            log_info("lambda", "lambda[%s]: %s", e->fn->name, e->line);
            e->linelen = 0;
            if (c == '\n') {
                continue;
            }
        }
        e->line[e->linelen++] = c;
    }
}

/* Reads what is in the pipe now (non-blocking). */
static void drain(struct lam__env *e)
{
    char buf[16384];
    for (;;) {
        ssize_t n;
        if (e->log_fd < 0) {
            return;
        }
        n = read(e->log_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                e->log_eof = true;
            }
            return;
        }
        if (e->inv) {
            lam__log_append(&e->log, buf, (size_t)n);
        }
        log_lines(e, buf, (size_t)n);
    }
}

/* ---- killing ---- */

static void kill_env(struct lam__env *e)
{
    if (!e->killed && e->pid > 0) {
        kill(-e->pid, SIGKILL);
        e->killed = true;
    }
}

/* Resumes a suspended invocation/next without an invocation (the environment is going). */
static void release_next(struct lam__env *e)
{
    if (e->next_req) {
        struct http_req *r = e->next_req;
        e->next_req = NULL;
        lam__next_cancel(r);
    }
}

/* ---- finishing an invocation ---- */

static unsigned max_memory_mb(pid_t pid)
{
    char path[64], line[256];
    FILE *f;
    unsigned long kb = 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (!f) {
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtoul(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return (unsigned)((kb + 1023) / 1024);
}

/*
 * Ends e's invocation with outcome and the result bytes (copied; NULL for an error made
 * here), writes END and REPORT, fills the tail. status: NULL, "timeout" or "error".
 */
static void finish(struct lam *l, struct lam__env *e, struct done_list *d, enum lam_outcome out,
                   const char *p, size_t n, const char *status)
{
    struct lam__inv *inv = e->inv;
    struct lam_invoke *req = inv->req;
    double ms = (double)(now_ns() - e->inv_start_ns) / 1e6;

    (void)l;
    drain(e);
    lam__log_printf(&e->log, "END RequestId: %s\n", req->request_id);
    lam__log_report(&e->log, req->request_id, ms, inv->conf.memory_mb, max_memory_mb(e->pid),
                    e->init_reported ? 0 : e->init_ms, status);
    e->init_reported = true;
    log_info("lambda", "lambda[%s]: %s %s in %.1f ms", e->fn->name, req->request_id,
             out == LAM_OK ? "succeeded" : status ? status : "failed", ms);
    req->outcome = out;
    if (p) {
        req->result = xmalloc(n + 1);
        memcpy(req->result, p, n);
        req->result[n] = '\0';
        req->result_len = n;
    }
    req->function_error = out == LAM_FUNCTION_ERROR ? "Unhandled" : NULL;
    if (req->want_log) {
        req->log_tail = lam__log_tail(&e->log);
    }
    lam__log_release(&e->log);
    e->inv = NULL;
    e->state = LAM__ENV_READY;
    e->last_used_ns = now_ns();
    done_add(d, inv);
    if (e->retired) {
        kill_env(e);
    }
}

void lam__result_error(struct lam_invoke *req, const char *type, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    json_t *o;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    o = json_pack("{s:s, s:s}", "errorMessage", msg, "errorType", type);
    req->result = json_dumps(o, JSON_COMPACT);
    req->result_len = strlen(req->result);
    json_decref(o);
}

/* ---- spawning ---- */

static char *env_kv(const char *k, const char *v)
{
    size_t n = strlen(k) + strlen(v) + 2;
    char *s = xmalloc(n);
    snprintf(s, n, "%s=%s", k, v);
    return s;
}

/* The address functions call sluice on: the front door's, loopback when it listens on all. */
static void endpoint_url(struct lam *l, char *out, size_t cap)
{
    const char *b = http_server_bind(l->srv);
    unsigned port = http_server_port(l->srv);
    if (strcmp(b, "0.0.0.0") == 0) {
        snprintf(out, cap, "http://127.0.0.1:%u", port);
    }
    else if (strcmp(b, "::") == 0) {
        snprintf(out, cap, "http://[::1]:%u", port);
    }
    else if (strchr(b, ':')) {
        snprintf(out, cap, "http://[%s]:%u", b, port);
    }
    else {
        snprintf(out, cap, "http://%s:%u", b, port);
    }
}

/* envp of an environment (heap strings, NULL-terminated; free with free_envp). */
static char **build_envp(struct lam *l, const struct lam__fnconf *c, const char *task_root,
                         const char *runtime_dir, unsigned port)
{
    size_t cap = 32 + (c->vars ? json_object_size(c->vars) : 0), n = 0;
    char **envp = xcalloc(cap + 1, sizeof *envp);
    char buf[512], stream[128], hex[33], uuid[37];
    const char *path = getenv("PATH");
    time_t t = time(NULL);
    struct tm tm;
    const char *k;
    json_t *v;

    gmtime_r(&t, &tm);
    /* [$LATEST] and 32 hex digits, as Lambda names an environment's log stream. */
    sl_uuid4(uuid);
    for (size_t i = 0, o = 0; uuid[i]; i++) {
        if (uuid[i] != '-') {
            hex[o++] = uuid[i];
            hex[o] = '\0';
        }
    }
    snprintf(stream, sizeof stream, "%04d/%02d/%02d/[$LATEST]%s", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, hex);
    envp[n++] = env_kv("PATH", path ? path : "/usr/local/bin:/usr/bin:/bin");
    envp[n++] = env_kv("LANG", "C.UTF-8");
    envp[n++] = env_kv("TZ", ":UTC");
    envp[n++] = env_kv("AWS_REGION", l->region);
    envp[n++] = env_kv("AWS_DEFAULT_REGION", l->region);
    envp[n++] = env_kv("AWS_LAMBDA_FUNCTION_NAME", c->name);
    envp[n++] = env_kv("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
    snprintf(buf, sizeof buf, "%u", c->memory_mb);
    envp[n++] = env_kv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", buf);
    snprintf(buf, sizeof buf, "/aws/lambda/%s", c->name);
    envp[n++] = env_kv("AWS_LAMBDA_LOG_GROUP_NAME", buf);
    envp[n++] = env_kv("AWS_LAMBDA_LOG_STREAM_NAME", stream);
    envp[n++] = env_kv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
    snprintf(buf, sizeof buf, "127.0.0.1:%u", port);
    envp[n++] = env_kv("AWS_LAMBDA_RUNTIME_API", buf);
    snprintf(buf, sizeof buf, "AWS_Lambda_%s", c->runtime);
    envp[n++] = env_kv("AWS_EXECUTION_ENV", buf);
    envp[n++] = env_kv("LAMBDA_TASK_ROOT", task_root);
    envp[n++] = env_kv("LAMBDA_RUNTIME_DIR", runtime_dir);
    envp[n++] = env_kv("_HANDLER", c->handler);
    envp[n++] = env_kv("AWS_ACCESS_KEY_ID", l->access_key);
    envp[n++] = env_kv("AWS_SECRET_ACCESS_KEY", l->secret_key);
    endpoint_url(l, buf, sizeof buf);
    envp[n++] = env_kv("AWS_ENDPOINT_URL", buf);
    if (c->vars) {
        json_object_foreach(c->vars, k, v) {
            const char *s = json_string_value(v);
            if (!s) {
                continue;
            }
            /* The function's own value wins over sluice's for a key both set. */
            for (size_t i = 0; i < n; i++) {
                size_t kl = strlen(k);
                if (strncmp(envp[i], k, kl) == 0 && envp[i][kl] == '=') {
                    free(envp[i]);
                    envp[i] = envp[--n];
                    break;
                }
            }
            if (n < cap) {
                envp[n++] = env_kv(k, s);
            }
        }
    }
    envp[n] = NULL;
    return envp;
}

static void free_envp(char **envp)
{
    for (char **p = envp; *p; p++) {
        free(*p);
    }
    free(envp);
}

static int listen_loopback(unsigned *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -errno;
    }
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/*
 * The child's side of start_child(), between fork() and execve(): only async-signal-safe
 * calls, since the parent has other threads. Reports a failure as its errno on report_fd.
 */
static void child_exec(const char *const *argv, char **envp, const char *dir, int log_fd,
                       int report_fd, pid_t parent)
{
    struct sigaction dfl;
    sigset_t none;
    int e, null_fd;

    /* Dies with sluice, even by SIGKILL: the supervisor thread that forks lives as long as
     * the service, and a parent gone before prctl() took effect is caught by getppid(). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
        goto fail;
    }
    if (setpgid(0, 0) != 0) {
        goto fail;
    }
    null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0) {
        goto fail;
    }
    if (chdir(dir) != 0) {
        goto fail;
    }
    /* Every other descriptor closed, but the report pipe (close-on-exec). */
    for (int fd = 3; fd < report_fd; fd++) {
        close(fd);
    }
    if (syscall(SYS_close_range, (unsigned)report_fd + 1, ~0u, 0) != 0) {
        for (int fd = report_fd + 1; fd < 65536; fd++) {
            close(fd);
        }
    }
    /* Signals at their defaults and unblocked: sluice ignores SIGPIPE and blocks SIGINT and
     * SIGTERM, and exec would pass both on. */
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        sigaction(sig, &dfl, NULL);
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(argv[0], (char *const *)argv, envp);
fail:
    e = errno;
    if (write(report_fd, &e, sizeof e) < 0) {
        /* Nothing left to tell it with. */
    }
    _exit(127);
}

/*
 * Starts argv[0] with envp in dir, stdout and stderr into log_fd, in a process group of its
 * own, killed when sluice ends however it ends. Returns 0 with *pid set, or the errno that
 * kept it from running (exec's included: the child reports it through a close-on-exec pipe,
 * as posix_spawn() would). Thread: the supervisor only (PR_SET_PDEATHSIG fires when the
 * thread that forked ends).
 */
static int start_child(const char *const *argv, char **envp, const char *dir, int log_fd,
                       pid_t *pid)
{
    int report[2], err = 0;
    pid_t parent = getpid(), child;
    ssize_t n;

    if (pipe2(report, O_CLOEXEC) != 0) {
        return errno;
    }
    child = fork();
    if (child < 0) {
        err = errno;
        close(report[0]);
        close(report[1]);
        return err;
    }
    if (child == 0) {
        close(report[0]);
        child_exec(argv, envp, dir, log_fd, report[1], parent);
    }
    close(report[1]);
    do {
        n = read(report[0], &err, sizeof err);
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof err) {
        waitpid(child, NULL, 0);
        return err ? err : EIO;
    }
    *pid = child;
    return 0;
}

/*
 * Starts an environment of c for f. On a failure that is the function's (no bootstrap, no
 * interpreter), *type and msg say so and -1 is returned; a system failure returns -errno.
 * Thread: the supervisor (start_child()).
 */
static int spawn(struct lam *l, struct lam__fnrt *f, const struct lam__fnconf *c,
                 const char **type, char *msg, size_t msglen)
{
    const struct lam__runtime *rt = lam__runtime_find(c->runtime);
    char task_root[2048], runtime_dir[1200], scratch[1200];
    const char *argv[5];
    char **envp;
    int pipefd[2] = { -1, -1 }, lfd, rc;
    unsigned port = 0;
    pid_t pid = -1;
    struct lam__env *e;

    if (!rt) {
        *type = "Runtime.InvalidRuntime";
        snprintf(msg, msglen, "The runtime %s is not served", c->runtime);
        return -1;
    }
    rc = lam__code_dir(l, c->code_id, task_root, sizeof task_root);
    if (rc) {
        log_error("lambda", "lambda[%s]: cannot unpack code %s: %s", c->name, c->code_id,
                  lam_strerror(rc));
        *type = "Runtime.InvalidEntrypoint";
        snprintf(msg, msglen, "The function's code could not be unpacked");
        return -1;
    }
    if (rt->argv(l, task_root, argv, scratch, sizeof scratch, type, msg, msglen) < 0) {
        return -1;
    }
    snprintf(runtime_dir, sizeof runtime_dir, "%s/%s", l->runtimes_dir[0] ? l->runtimes_dir : ".",
             rt->family);
    lfd = listen_loopback(&port);
    if (lfd < 0) {
        return lfd;
    }
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        rc = -errno;
        close(lfd);
        return rc;
    }
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    envp = build_envp(l, c, task_root, runtime_dir, port);
    rc = start_child(argv, envp, task_root, pipefd[1], &pid);
    free_envp(envp);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        close(lfd);
        *type = "Runtime.InvalidEntrypoint";
        snprintf(msg, msglen, "fork/exec %s: %s", argv[0], strerror(rc));
        return -1;
    }
    e = xcalloc(1, sizeof *e);
    e->id = ++l->env_ids;
    e->fn = f;
    e->state = LAM__ENV_STARTING;
    e->pid = pid;
    e->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    e->listen_fd = lfd;
    e->port = port;
    e->log_fd = pipefd[0];
    snprintf(e->code_id, sizeof e->code_id, "%s", c->code_id);
    snprintf(e->revision, sizeof e->revision, "%s", c->revision);
    e->timeout_s = c->timeout_s;
    e->t_spawn_ns = now_ns();
    e->last_used_ns = e->t_spawn_ns;
    e->next = l->envs;
    l->envs = e;
    f->n_envs++;
    f->n_starting++;
    log_debug("lambda", "lambda[%s]: environment %llu started (pid %d, runtime api port %u)",
              f->name, (unsigned long long)e->id, (int)pid, port);
    wake(l);
    return 0;
}

/* ---- matching invocations and environments ---- */

/* Hands inv to e, whose invocation/next is waiting. */
static void deliver(struct lam *l, struct lam__env *e, struct lam__inv *inv)
{
    struct http_req *r = e->next_req;
    uint64_t deadline_ms = lam__now_ms() + (uint64_t)inv->conf.timeout_s * 1000u;
    e->next_req = NULL;
    e->state = LAM__ENV_BUSY;
    e->inv = inv;
    e->inv_start_ns = now_ns();
    e->deadline_ns = e->inv_start_ns + (uint64_t)inv->conf.timeout_s * 1000000000ull;
    e->last_used_ns = e->inv_start_ns;
    lam__log_init(&e->log);
    lam__log_printf(&e->log, "START RequestId: %s Version: $LATEST\n", inv->req->request_id);
    lam__next_deliver(r, inv, deadline_ms);
    wake(l);
}

/* An environment ended before its first invocation/next, or was refused at spawn: the oldest
 * waiting invocation of revision rev fails with what made it fail. */
static void fail_init(struct lam__fnrt *f, const char *rev, struct done_list *d,
                      const char *type, const char *msg, const char *payload)
{
    struct lam__inv *inv = queue_take(f, rev);
    struct lam_invoke *req;
    struct lam__log g;
    if (!inv) {
        return;
    }
    req = inv->req;
    req->outcome = LAM_FUNCTION_ERROR;
    req->function_error = "Unhandled";
    if (payload) {
        req->result = xstrdup(payload);
        req->result_len = strlen(payload);
    }
    else {
        lam__result_error(req, type, "RequestId: %s Error: %s", req->request_id, msg);
    }
    if (req->want_log) {
        lam__log_init(&g);
        lam__log_printf(&g, "START RequestId: %s Version: $LATEST\n", req->request_id);
        lam__log_printf(&g, "RequestId: %s Error: %s\n%s\n", req->request_id, msg, type);
        lam__log_printf(&g, "END RequestId: %s\n", req->request_id);
        lam__log_report(&g, req->request_id, 0, inv->conf.memory_mb, 0, 0, "error");
        req->log_tail = lam__log_tail(&g);
        lam__log_release(&g);
    }
    log_info("lambda", "lambda[%s]: %s failed: %s: %s", f->name, req->request_id, type, msg);
    done_add(d, inv);
}

/* Matches f's queue with its idle environments, and has the supervisor start environments
 * for what is left. */
static void balance(struct lam *l, struct lam__fnrt *f)
{
    for (struct lam__env *e = l->envs; e && f->head; e = e->next) {
        struct lam__inv *inv;
        if (e->fn != f || e->state != LAM__ENV_IDLE || !e->next_req || e->retired ||
            e->killed) {
            continue;
        }
        inv = queue_take(f, e->revision);
        if (inv) {
            deliver(l, e, inv);
        }
    }
    if (f->head && f->queued > f->n_starting && !l->stopping) {
        wake(l); /* the supervisor starts what is missing (start_missing()) */
    }
}

/*
 * Starts environments for f's invocations that no environment will take, up to max_envs.
 * Thread: the supervisor, under l->mu (spawn()).
 */
static void start_missing(struct lam *l, struct lam__fnrt *f, struct done_list *d)
{
    while (f->head && f->queued > f->n_starting && !l->stopping) {
        const char *type = NULL;
        char msg[512];
        int rc;
        if (f->n_envs >= l->max_envs) {
            /* Full: make room by retiring an idle environment of an older revision. */
            struct lam__env *old = NULL;
            for (struct lam__env *e = l->envs; e; e = e->next) {
                if (e->fn == f && e->state == LAM__ENV_IDLE && !e->killed &&
                    strcmp(e->revision, f->head->conf.revision) != 0) {
                    old = e;
                }
            }
            if (old) {
                old->retired = true;
                kill_env(old);
            }
            return;
        }
        rc = spawn(l, f, &f->head->conf, &type, msg, sizeof msg);
        if (rc == -1) {
            fail_init(f, f->head->conf.revision, d, type, msg, NULL);
            continue;
        }
        if (rc < 0) {
            log_error("lambda", "lambda[%s]: cannot start an environment: %s", f->name,
                      strerror(-rc));
            fail_init(f, f->head->conf.revision, d, "Runtime.Unknown",
                      "The environment could not be started", NULL);
        }
    }
}

int lam__dispatch(struct lam *l, struct lam__inv *inv)
{
    struct done_list d = { NULL };
    struct lam__fnrt *f;

    pthread_mutex_lock(&l->mu);
    if (l->stopping) {
        pthread_mutex_unlock(&l->mu);
        return LAM_ESHUTDOWN;
    }
    f = fnrt_get(l, inv->conf.name, true);
    if (f->queued >= LAM_QUEUE_MAX) {
        pthread_mutex_unlock(&l->mu);
        return LAM_ETHROTTLED;
    }
    inv->t_queued_ns = now_ns();
    inv->req->priv = inv;
    queue_push(f, inv);
    balance(l, f);
    pthread_mutex_unlock(&l->mu);
    done_run(&d);
    return 0;
}

void lam__retire(struct lam *l, const char *name)
{
    struct lam__fnrt *f;
    pthread_mutex_lock(&l->mu);
    f = fnrt_get(l, name, false);
    for (struct lam__env *e = l->envs; f && e; e = e->next) {
        if (e->fn != f) {
            continue;
        }
        e->retired = true;
        if (e->state != LAM__ENV_BUSY) {
            kill_env(e);
        }
    }
    pthread_mutex_unlock(&l->mu);
}

void lam__code_release(struct lam *l, const char *code_id)
{
    bool used = false;
    pthread_mutex_lock(&l->mu);
    for (struct lam__env *e = l->envs; e; e = e->next) {
        if (strcmp(e->code_id, code_id) == 0) {
            e->remove_code = true;
            used = true;
        }
    }
    pthread_mutex_unlock(&l->mu);
    if (!used) {
        lam__code_remove(l, code_id);
    }
}

/* ---- the Runtime API's side (called by runtime_api.c, under no lock) ---- */

/* Finds the environment a Runtime API request came to. Under l->mu. */
static struct lam__env *env_by_port(struct lam *l, unsigned port)
{
    for (struct lam__env *e = l->envs; e; e = e->next) {
        if (e->port == port && port != 0) {
            return e;
        }
    }
    return NULL;
}

int lam__env_next(struct lam *l, struct http_req *r, unsigned port)
{
    struct done_list d = { NULL };
    struct lam__env *e;
    int rc = 0;

    pthread_mutex_lock(&l->mu);
    e = env_by_port(l, port);
    if (!e || e->killed || l->stopping) {
        rc = LAM__RT_GONE;
    }
    else if (e->state == LAM__ENV_BUSY || e->next_req) {
        rc = LAM__RT_STATE;
    }
    else {
        if (e->state == LAM__ENV_STARTING) {
            e->init_ms = (double)(now_ns() - e->t_spawn_ns) / 1e6;
            e->fn->n_starting--;
        }
        e->state = LAM__ENV_IDLE;
        e->next_req = r;
        http_req_pending(r, lam__next_cont);
        balance(l, e->fn);
    }
    pthread_mutex_unlock(&l->mu);
    done_run(&d);
    return rc;
}

int lam__env_finish(struct lam *l, unsigned port, const char *request_id, bool error,
                    const char *p, size_t n)
{
    struct done_list d = { NULL };
    struct lam__env *e;
    int rc = 0;

    pthread_mutex_lock(&l->mu);
    e = env_by_port(l, port);
    if (!e) {
        rc = LAM__RT_GONE;
    }
    else if (e->state != LAM__ENV_BUSY || !e->inv ||
             strcmp(e->inv->req->request_id, request_id) != 0) {
        rc = LAM__RT_REQUEST_ID;
    }
    else if (n > LAM_RESPONSE_MAX) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "{\"errorMessage\":\"Response payload size exceeded maximum allowed payload "
                 "size (%u bytes).\",\"errorType\":\"Function.ResponseSizeTooLarge\"}",
                 LAM_RESPONSE_MAX);
        finish(l, e, &d, LAM_FUNCTION_ERROR, msg, strlen(msg), "error");
        rc = LAM__RT_TOO_LARGE;
    }
    else {
        finish(l, e, &d, error ? LAM_FUNCTION_ERROR : LAM_OK, p, n, error ? "error" : NULL);
    }
    pthread_mutex_unlock(&l->mu);
    done_run(&d);
    return rc;
}

int lam__env_init_error(struct lam *l, unsigned port, const char *p, size_t n)
{
    struct lam__env *e;
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    e = env_by_port(l, port);
    if (!e) {
        rc = LAM__RT_GONE;
    }
    else if (e->state != LAM__ENV_STARTING) {
        rc = LAM__RT_STATE;
    }
    else {
        free(e->init_error);
        e->init_error = xmalloc(n + 1);
        memcpy(e->init_error, p, n);
        e->init_error[n] = '\0';
        /* Lambda resets the environment after an init error; its end fails an invocation
         * with this payload (env_died). */
        e->init_failed_ns = now_ns();
    }
    pthread_mutex_unlock(&l->mu);
    wake(l);
    return rc;
}

/* ---- the supervisor ---- */

static void env_free(struct lam *l, struct lam__env *e)
{
    struct lam__env **pp = &l->envs;
    while (*pp && *pp != e) {
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = e->next;
    }
    if (e->listen_fd >= 0) {
        close(e->listen_fd);
    }
    if (e->log_fd >= 0) {
        close(e->log_fd);
    }
    if (e->pidfd >= 0) {
        close(e->pidfd);
    }
    if (e->linelen) {
        e->line[e->linelen] = '\0';
        log_info("lambda", "lambda[%s]: %s", e->fn->name, e->line);
    }
    lam__log_release(&e->log);
    free(e->init_error);
    free(e);
}

/* Is any other environment running code_id? */
static bool code_in_use(struct lam *l, const struct lam__env *self, const char *code_id)
{
    for (struct lam__env *e = l->envs; e; e = e->next) {
        if (e != self && strcmp(e->code_id, code_id) == 0) {
            return true;
        }
    }
    return false;
}

/* The process of e exited with status st: settle what it held and free it. */
static void env_died(struct lam *l, struct lam__env *e, int st, struct done_list *d)
{
    struct lam__fnrt *f = e->fn;
    char why[96];
    char code[33];
    bool remove = false;

    if (WIFEXITED(st)) {
        snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(st));
    }
    else if (WIFSIGNALED(st)) {
        snprintf(why, sizeof why, "signal: %s", WTERMSIG(st) == SIGKILL ? "killed"
                                                : strsignal(WTERMSIG(st)));
    }
    else {
        snprintf(why, sizeof why, "exit");
    }
    drain(e);
    if (e->inv && l->stopping) {
        fail_inv(d, e->inv, LAM_ESHUTDOWN);
        e->inv = NULL;
    }
    else if (e->inv) {
        struct lam_invoke *req = e->inv->req;
        char payload[512];
        json_t *o;
        char *text;
        if (e->timed_out) {
            char line[160];
            char ts[32];
            struct timespec now;
            struct tm tm;
            clock_gettime(CLOCK_REALTIME, &now);
            gmtime_r(&now.tv_sec, &tm);
            strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
            snprintf(line, sizeof line, "%s.%03ldZ %s Task timed out after %u.00 seconds\n\n",
                     ts, now.tv_nsec / 1000000, req->request_id, e->timeout_s);
            lam__log_append(&e->log, line, strlen(line));
            snprintf(payload, sizeof payload, "RequestId: %s Error: Task timed out after %u.00 "
                     "seconds", req->request_id, e->timeout_s);
            o = json_pack("{s:s, s:s}", "errorMessage", payload, "errorType", "Sandbox.Timedout");
        }
        else {
            lam__log_printf(&e->log, "RequestId: %s Error: Runtime exited with error: %s\n"
                            "Runtime.ExitError\n", req->request_id, why);
            snprintf(payload, sizeof payload, "RequestId: %s Error: Runtime exited with error: %s",
                     req->request_id, why);
            o = json_pack("{s:s, s:s}", "errorMessage", payload, "errorType", "Runtime.ExitError");
        }
        text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        finish(l, e, d, LAM_FUNCTION_ERROR, text, strlen(text), e->timed_out ? "timeout" : "error");
        free(text);
    }
    else if (e->state == LAM__ENV_STARTING && !l->stopping) {
        char msg[160];
        f->n_starting--;
        if (e->init_error) {
            json_error_t jerr;
            json_t *o = json_loads(e->init_error, 0, &jerr);
            const char *type = json_string_value(json_object_get(o, "errorType"));
            const char *m = json_string_value(json_object_get(o, "errorMessage"));
            fail_init(f, e->revision, d, type ? type : "Runtime.Unknown", m ? m : "init error",
                      e->init_error);
            json_decref(o);
        }
        else if (e->init_timed_out) {
            snprintf(msg, sizeof msg, "Task timed out after %u.00 seconds",
                     LAM_INIT_TIMEOUT_MS / 1000);
            fail_init(f, e->revision, d, "Sandbox.Timedout", msg, NULL);
        }
        else {
            snprintf(msg, sizeof msg, "Runtime exited with error: %s", why);
            fail_init(f, e->revision, d, "Runtime.ExitError", msg, NULL);
        }
    }
    else if (e->state == LAM__ENV_STARTING) {
        f->n_starting--;
    }
    release_next(e);
    log_debug("lambda", "lambda[%s]: environment %llu ended (%s)", f->name,
              (unsigned long long)e->id, why);
    f->n_envs--;
    snprintf(code, sizeof code, "%s", e->code_id);
    remove = e->remove_code && !code_in_use(l, e, code);
    env_free(l, e);
    if (remove) {
        lam__code_remove(l, code);
    }
    balance(l, f);
}

/* Kills what is past its time; returns the poll timeout until the next deadline (ms). */
static int check_times(struct lam *l)
{
    uint64_t now = now_ns();
    uint64_t next = now + 1000000000ull;
    bool no_pidfd = false;
    for (struct lam__env *e = l->envs; e; e = e->next) {
        uint64_t due = 0;
        if (e->pidfd < 0) {
            no_pidfd = true;
        }
        if (e->killed) {
            continue;
        }
        if (e->state == LAM__ENV_BUSY) {
            due = e->deadline_ns;
            if (now >= due) {
                e->timed_out = true;
                kill_env(e);
                continue;
            }
        }
        else if (e->state == LAM__ENV_STARTING) {
            due = e->init_failed_ns ? e->init_failed_ns + 500000000ull
                                    : e->t_spawn_ns + LAM_INIT_TIMEOUT_MS * 1000000ull;
            if (now >= due) {
                e->init_timed_out = !e->init_failed_ns;
                kill_env(e);
                continue;
            }
        }
        else if (e->state == LAM__ENV_IDLE || e->state == LAM__ENV_READY) {
            due = e->last_used_ns + LAM_IDLE_MS * 1000000ull;
            if (now >= due) {
                e->retired = true;
                kill_env(e);
                continue;
            }
        }
        if (due && due < next) {
            next = due;
        }
    }
    if (no_pidfd && next > now + 50000000ull) {
        next = now + 50000000ull;
    }
    return (int)((next - now) / 1000000ull) + 1;
}

enum { FD_WAKE, FD_LISTEN, FD_LOG, FD_PID };

void *lam__supervisor_main(void *arg);
void *lam__supervisor_main(void *arg)
{
    struct lam *l = arg;
    struct pollfd *pfd = NULL;
    uint64_t *ids = NULL;
    int *kinds = NULL;
    size_t cap = 0;

    for (;;) {
        struct done_list d = { NULL };
        size_t n = 1, envs = 0;
        int timeout;

        pthread_mutex_lock(&l->mu);
        if (l->stopping && !l->envs) {
            pthread_mutex_unlock(&l->mu);
            break;
        }
        for (struct lam__fnrt *f = l->fns; f; f = f->next) {
            start_missing(l, f, &d);
        }
        for (struct lam__env *e = l->envs; e; e = e->next) {
            envs++;
        }
        if (cap < 1 + 3 * envs) {
            cap = 1 + 3 * envs + 16;
            pfd = xrealloc(pfd, cap * sizeof *pfd);
            ids = xrealloc(ids, cap * sizeof *ids);
            kinds = xrealloc(kinds, cap * sizeof *kinds);
        }
        pfd[0].fd = l->wake[0];
        pfd[0].events = POLLIN;
        kinds[0] = FD_WAKE;
        for (struct lam__env *e = l->envs; e; e = e->next) {
            if (!e->killed && !l->stopping) {
                pfd[n] = (struct pollfd){ e->listen_fd, POLLIN, 0 };
                ids[n] = e->id;
                kinds[n++] = FD_LISTEN;
            }
            if (!e->log_eof) {
                pfd[n] = (struct pollfd){ e->log_fd, POLLIN, 0 };
                ids[n] = e->id;
                kinds[n++] = FD_LOG;
            }
            if (e->pidfd >= 0) {
                pfd[n] = (struct pollfd){ e->pidfd, POLLIN, 0 };
                ids[n] = e->id;
                kinds[n++] = FD_PID;
            }
        }
        timeout = check_times(l);
        pthread_mutex_unlock(&l->mu);
        done_run(&d);

        if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
            log_error("lambda", "supervisor poll: %s", strerror(errno));
        }
        if (pfd[0].revents & POLLIN) {
            char buf[64];
            while (read(l->wake[0], buf, sizeof buf) > 0) {
            }
        }
        /* New Runtime API connections go to the front door (outside the lock: the front
         * door may run a handler that takes it). The listening descriptors stay open: only
         * this thread closes them. */
        for (size_t i = 1; i < n; i++) {
            if (kinds[i] == FD_LISTEN && (pfd[i].revents & POLLIN)) {
                for (;;) {
                    struct sockaddr_storage ss;
                    socklen_t sl = sizeof ss;
                    int c = accept4(pfd[i].fd, (struct sockaddr *)&ss, &sl,
                                    SOCK_CLOEXEC | SOCK_NONBLOCK);
                    if (c < 0) {
                        break;
                    }
                    if (http_server_add_connection(l->srv, c, (struct sockaddr *)&ss, sl) < 0) {
                        log_warn("lambda", "cannot serve a Runtime API connection");
                    }
                }
            }
        }
        pthread_mutex_lock(&l->mu);
        for (size_t i = 1; i < n; i++) {
            struct lam__env *e;
            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) || kinds[i] == FD_LISTEN) {
                continue;
            }
            for (e = l->envs; e && e->id != ids[i]; e = e->next) {
            }
            if (!e) {
                continue;
            }
            if (kinds[i] == FD_LOG) {
                drain(e);
            }
        }
        /* Reap: every environment whose process exited. */
        for (struct lam__env *e = l->envs, *nx; e; e = nx) {
            int st = 0;
            nx = e->next;
            if (waitpid(e->pid, &st, WNOHANG) == e->pid) {
                env_died(l, e, st, &d);
                nx = l->envs; /* the list changed; start over */
            }
        }
        pthread_mutex_unlock(&l->mu);
        done_run(&d);
    }
    free(pfd);
    free(ids);
    free(kinds);
    return NULL;
}

int lam__env_start(struct lam *l)
{
    if (pipe2(l->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        return -errno;
    }
    if (pthread_create(&l->supervisor, NULL, lam__supervisor_main, l) != 0) {
        return -EAGAIN;
    }
    l->supervisor_started = true;
    return 0;
}

void lam__env_stop(struct lam *l)
{
    struct done_list d = { NULL };

    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    for (struct lam__fnrt *f = l->fns; f; f = f->next) {
        struct lam__inv *inv;
        while ((inv = queue_take(f, NULL)) != NULL) {
            fail_inv(&d, inv, LAM_ESHUTDOWN);
        }
    }
    for (struct lam__env *e = l->envs; e; e = e->next) {
        kill_env(e);
        release_next(e);
    }
    pthread_mutex_unlock(&l->mu);
    done_run(&d);
    wake(l);
    if (l->supervisor_started) {
        pthread_join(l->supervisor, NULL);
        l->supervisor_started = false;
    }
    while (l->fns) {
        struct lam__fnrt *f = l->fns;
        l->fns = f->next;
        free(f);
    }
    for (int i = 0; i < 2; i++) {
        if (l->wake[i] >= 0) {
            close(l->wake[i]);
            l->wake[i] = -1;
        }
    }
}
