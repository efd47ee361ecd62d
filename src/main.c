/*
 * main.c: the `sluice` command.
 *
 *   sluice serve [flags]         run the server (sluice serve --help)
 *   sluice query [flags] 'SQL'   SQL over the archive of a running server (cli_query.c)
 *   sluice version               print the version
 *
 * Start-up order: settings, signals blocked (so only this thread takes SIGINT/SIGTERM), the
 * store (which locks the data directory), credentials, services, the front door, then the
 * banner. Shutdown runs the other way: Lambda first (its environments are killed and the
 * requests it holds suspended are answered, or the front door could not stop), then stop
 * accepting and let in-flight requests finish, stop services, drain and close the store. Every acknowledged write was committed before it was
 * acknowledged, so a SIGKILL at any point loses nothing acknowledged either.
 */
#define _XOPEN_SOURCE 700 /* realpath() */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_query.h"
#include "core/auth.h"
#include "core/config.h"
#include "core/http.h"
#include "core/log.h"
#include "core/sigv4.h"
#include "core/store.h"
#include "dynamodb/dynamodb.h"
#include "firehose/firehose.h"
#include "lambda/lambda.h"
#include "query/query.h"
#include "s3/s3.h"
#include "streams/streams.h"

static void store_metrics(void *ctx, struct buf *b)
{
    struct store_stats s;
    static const char *const le[] = { "1", "3", "7", "15", "31", "63", "127", "+Inf" };
    uint64_t cum = 0;

    store_get_stats(ctx, &s);
    buf_puts(b, "# HELP sluice_store_batch_size Writer ops per group commit.\n"
                "# TYPE sluice_store_batch_size histogram\n");
    for (int i = 0; i < 8; i++) {
        cum += s.batch_hist[i];
        buf_printf(b, "sluice_store_batch_size_bucket{le=\"%s\"} %llu\n", le[i],
                   (unsigned long long)cum);
    }
    buf_printf(b,
               "sluice_store_batch_size_sum %llu\nsluice_store_batch_size_count %llu\n"
               "# HELP sluice_store_ops_total Writer ops applied.\n"
               "# TYPE sluice_store_ops_total counter\nsluice_store_ops_total %llu\n"
               "# HELP sluice_store_ops_failed_total Writer ops that failed or rolled back.\n"
               "# TYPE sluice_store_ops_failed_total counter\n"
               "sluice_store_ops_failed_total %llu\n"
               "# HELP sluice_store_commit_seconds_total Time spent committing (with fsync).\n"
               "# TYPE sluice_store_commit_seconds_total counter\n"
               "sluice_store_commit_seconds_total %.6f\n"
               "# HELP sluice_store_queue_depth Ops waiting for the writer.\n"
               "# TYPE sluice_store_queue_depth gauge\nsluice_store_queue_depth %llu\n"
               "# HELP sluice_store_used_bytes Bytes of the store's map in use.\n"
               "# TYPE sluice_store_used_bytes gauge\nsluice_store_used_bytes %llu\n"
               "# HELP sluice_store_file_bytes Size of sluice.mdb on disk.\n"
               "# TYPE sluice_store_file_bytes gauge\nsluice_store_file_bytes %llu\n",
               (unsigned long long)s.ops, (unsigned long long)s.groups,
               (unsigned long long)s.ops, (unsigned long long)s.ops_failed,
               (double)s.commit_ns_total / 1e9, (unsigned long long)s.queue_depth,
               (unsigned long long)s.map_used_bytes, (unsigned long long)s.file_bytes);
}

static void banner(const struct config *c, unsigned port, struct auth *a, int created)
{
    const char *id = auth_root_access_key(a);
    const char *secret = auth_root_secret(a);
    const char *host = strchr(c->bind, ':') ? "[::1]" : c->bind;
    char endpoint[128];

    snprintf(endpoint, sizeof endpoint, "http://%s:%u", host, port);
    printf("sluice %s serving DynamoDB, DynamoDB Streams, Lambda, Firehose and S3\n"
           "  endpoint:       %s\n"
           "  data directory: %s (sync %s)\n"
           "  region:         %s, account %s\n",
           SLUICE_VERSION, endpoint, c->data_dir, c->sync == STORE_SYNC_FULL ? "full" : "none",
           c->region, c->account_id);
    if (strcmp(auth_root_source(a), "environment") == 0) {
        printf("  credentials:    from SLUICE_ROOT_ACCESS_KEY_ID / "
               "SLUICE_ROOT_SECRET_ACCESS_KEY\n");
    }
    else {
        printf("  credentials:    %s %s/credentials\n", created ? "created in" : "from",
               c->data_dir);
    }
    printf("    AWS_ACCESS_KEY_ID=%s\n    AWS_SECRET_ACCESS_KEY=%s\n", id, secret);
    printf("  try:\n    AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s "
           "aws --endpoint-url %s dynamodb list-tables\n",
           id, secret, c->region, endpoint);
    fflush(stdout);
}

/* S3's event notifications, delivered as asynchronous Lambda invocations (S3 is a floor
 * below Lambda: it calls back, never includes). */
static int s3_to_lambda(void *ctx, const char *function, const char *json, size_t len)
{
    int rc = lam_invoke_event(ctx, function, json, len);
    if (rc == LAM_ENOFUNC || rc == LAM_ETOOLARGE || rc == LAM_EPAYLOAD) {
        return S3_ENOTIFY_DROP;
    }
    return rc;
}

static int serve(int argc, char **argv)
{
    struct config c;
    char err[512] = "";
    char data_dir[PATH_MAX];
    struct store *st = NULL;
    struct auth *a = NULL;
    struct http_server *srv = NULL;
    struct ddb *ddb = NULL;
    struct strm *streams = NULL;
    struct s3 *s3 = NULL;
    struct fh *fh = NULL;
    struct lam *lam = NULL;
    struct lam_options lo;
    struct qry *query = NULL;
    struct qry_options qo;
    struct http_service *svc, *s3svc;
    struct store_options so;
    struct http_server_options ho;
    sigset_t set;
    int rc, sig = 0, created = 0;

    rc = config_parse(&c, argc, argv, err, sizeof err);
    if (rc == 1) {
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "sluice: %s\n", err);
        return 2;
    }
    log_threshold = c.log_level;

    /* Block the stop signals before any thread starts, so they all inherit the mask and the
     * signals reach sigwait() below. SIGPIPE is ignored: a client that hangs up is a closed
     * socket, not a reason to die. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    sigv4_global_init();
    memset(&so, 0, sizeof so);
    so.dir = c.data_dir;
    so.sync = c.sync;
    so.defer_first_sync = true;
    rc = store_open(&so, &st, err, sizeof err);
    if (rc < 0) {
        log_error("sluice", "%s", err);
        goto out;
    }
    /* From here on the data directory exists: services get its absolute path, so that a
     * relative --data-dir ("./data", as make run passes it) still names it from a function
     * environment, whose working directory is its code's. */
    if (!realpath(c.data_dir, data_dir)) {
        rc = -errno;
        log_error("sluice", "cannot resolve data directory %s: %s", c.data_dir, strerror(errno));
        goto out;
    }
    rc = auth_load(data_dir, &a, &created, err, sizeof err);
    if (rc < 0) {
        log_error("sluice", "%s", err);
        goto out;
    }
    memset(&ho, 0, sizeof ho);
    ho.bind = c.bind;
    ho.port = c.port;
    ho.threads = c.threads;
    ho.region = c.region;
    ho.account_id = c.account_id;
    ho.secret_lookup = auth_lookup;
    ho.secret_ctx = a;
    http_server_new(&ho, &srv);
    rc = strm_new(st, c.region, c.account_id, &streams, &svc);
    if (rc < 0) {
        log_error("sluice", "cannot open the stream store: %s", store_strerror(rc));
        goto out;
    }
    http_server_register(srv, svc);
    rc = ddb_new(st, streams, c.region, c.account_id, &ddb, &svc);
    if (rc < 0) {
        log_error("sluice", "cannot open the DynamoDB catalog: %s", store_strerror(rc));
        goto out;
    }
    rc = ddb_ttl_start(ddb, c.ddb_ttl_interval);
    if (rc < 0) {
        log_error("sluice", "cannot start DynamoDB's time-to-live sweeper: %s", strerror(-rc));
        goto out;
    }
    http_server_register(srv, svc);
    rc = s3_new(st, data_dir, c.region, c.account_id, &s3, &s3svc);
    if (rc < 0) {
        log_error("sluice", "cannot open S3: %s", s3_strerror(rc));
        goto out;
    }
    /* Queries before Lambda, which claims any path signed for "lambda": /_sluice/query is
     * the query service's whatever the credential scope names. */
    memset(&qo, 0, sizeof qo);
    qry_limits_default(&qo.limits);
    qo.limits.timeout_ms = (uint64_t)c.query_timeout * 1000;
    rc = qry_new(s3, &qo, &query, &svc);
    if (rc < 0) {
        log_error("sluice", "cannot start the query service: %s", strerror(-rc));
        goto out;
    }
    http_server_register(srv, svc);
    memset(&lo, 0, sizeof lo);
    lo.data_dir = data_dir;
    lo.region = c.region;
    lo.account = c.account_id;
    lo.access_key = auth_root_access_key(a);
    lo.secret_key = auth_root_secret(a);
    lo.runtimes_dir = c.lambda_runtimes;
    lo.python = c.lambda_python;
    lo.node = c.lambda_node;
    lo.max_envs = c.lambda_concurrency;
    rc = lam_new(st, srv, streams, &lo, &lam, &svc);
    if (rc < 0) {
        log_error("sluice", "cannot open Lambda: %s", lam_strerror(rc));
        goto out;
    }
    s3_set_notifier(s3, s3_to_lambda, lam);
    /* S3's background thread (notifications, lifecycle) starts once the notifier is set. */
    rc = s3_lifecycle_start(s3, c.s3_lifecycle_interval, c.s3_lifecycle_day);
    if (rc < 0) {
        log_error("sluice", "cannot start S3's background thread: %s", strerror(-rc));
        goto out;
    }
    http_server_register(srv, svc);
    rc = fh_new(st, s3, c.region, c.account_id, &fh, &svc);
    if (rc < 0) {
        log_error("sluice", "cannot open Firehose: %s", store_strerror(rc));
        goto out;
    }
    http_server_register(srv, svc);
    /* S3 last: it claims every request that no other service claimed. */
    http_server_register(srv, s3svc);
    http_server_add_metrics(srv, store_metrics, st);
    http_server_add_metrics(srv, s3_metrics, s3);
    rc = store_ready(st);
    if (rc < 0) {
        log_error("sluice", "cannot sync the new store: %s", store_strerror(rc));
        goto out;
    }
    rc = http_server_start(srv, err, sizeof err);
    if (rc < 0) {
        log_error("sluice", "%s", err);
        goto out;
    }
    rc = lam_start(lam);
    if (rc < 0) {
        log_error("sluice", "cannot start Lambda's workers: %s", lam_strerror(rc));
        goto out;
    }
    banner(&c, http_server_port(srv), a, created);

    while (sigwait(&set, &sig) != 0) {
    }
    log_info("sluice", "%s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
out:
    /* Queries first: their workers resume the requests they hold before the front door
     * stops, so no suspended request outlives its worker. */
    qry_stop(query);
    lam_shutdown(lam);
    s3_shutdown(s3);
    http_server_stop(srv, 800);
    http_server_free(srv);
    lam_free(lam);
    ddb_free(ddb);
    strm_free(streams);
    fh_free(fh);
    qry_free(query);
    s3_free(s3);
    store_close(st);
    auth_free(a);
    sigv4_global_cleanup();
    if (rc == 0 && sig) {
        log_info("sluice", "stopped");
    }
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "version") == 0) {
        printf("sluice %s\n", SLUICE_VERSION);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "serve") == 0) {
        return serve(argc - 2, argv + 2);
    }
    if (argc > 1 && strcmp(argv[1], "query") == 0) {
        return cli_query(argc - 2, argv + 2);
    }
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        printf("usage: sluice serve [flags]          run the server\n"
               "       sluice query [flags] 'SQL'    run SQL over the archive on a running "
               "server\n"
               "       sluice version                print the version\n\n");
        config_usage(stdout);
        printf("\n");
        cli_query_usage(stdout);
        return 0;
    }
    fprintf(stderr, "usage: sluice serve [flags] | sluice query [flags] 'SQL' | sluice version "
                    "(sluice --help)\n");
    return 2;
}
