/*
 * config.c: flags and environment variables of `sluice serve` (see config.h).
 *
 * One table describes every setting: its flag, its variable, its default and its help line,
 * so --help, the environment and the parser can never disagree.
 */
#include "core/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_id {
    O_PORT,
    O_BIND,
    O_DATA_DIR,
    O_REGION,
    O_ACCOUNT,
    O_LOG,
    O_SYNC,
    O_THREADS,
    O_LAMBDA_RUNTIMES,
    O_LAMBDA_PYTHON,
    O_LAMBDA_NODE,
    O_LAMBDA_CONCURRENCY,
    O_QUERY_TIMEOUT,
    O_S3_LIFECYCLE_INTERVAL,
    O_S3_LIFECYCLE_DAY,
    O_DDB_TTL_INTERVAL,
};

struct opt_def {
    enum opt_id id;
    const char *flag;
    const char *env;
    const char *def;
    const char *help;
};

static const struct opt_def defs[] = {
    { O_PORT, "port", "SLUICE_PORT", "4566", "TCP port to listen on (0 picks a free one)" },
    { O_BIND, "bind", "SLUICE_BIND", "127.0.0.1", "address to listen on (IPv4 or IPv6)" },
    { O_DATA_DIR, "data-dir", "SLUICE_DATA_DIR", "./data",
      "directory of the store, object bodies and credentials" },
    { O_REGION, "region", "SLUICE_REGION", "us-east-1", "AWS region the services claim" },
    { O_ACCOUNT, "account-id", "SLUICE_ACCOUNT_ID", "000000000000",
      "12-digit account id used in ARNs" },
    { O_LOG, "log-level", "SLUICE_LOG_LEVEL", "info",
      "error, warn, info or debug (debug logs one line per request)" },
    { O_SYNC, "sync", "SLUICE_SYNC", "full",
      "full: every acknowledged write is on disk; none: no fsync, for throwaway data" },
    { O_THREADS, "threads", "SLUICE_THREADS", "2", "HTTP worker threads" },
    { O_LAMBDA_RUNTIMES, "lambda-runtimes", "SLUICE_LAMBDA_RUNTIMES", "",
      "directory of the bundled Lambda bootstraps (empty: runtimes/ next to the binary)" },
    { O_LAMBDA_PYTHON, "lambda-python", "SLUICE_LAMBDA_PYTHON", "",
      "python3 for the python3.x runtimes (empty: /usr/bin/python3, else PATH)" },
    { O_LAMBDA_NODE, "lambda-node", "SLUICE_LAMBDA_NODE", "",
      "node for the nodejs runtimes (empty: node on PATH)" },
    { O_LAMBDA_CONCURRENCY, "lambda-concurrency", "SLUICE_LAMBDA_CONCURRENCY", "10",
      "environments one Lambda function may run at once" },
    { O_QUERY_TIMEOUT, "query-timeout", "SLUICE_QUERY_TIMEOUT", "60",
      "seconds a query (POST /_sluice/query, sluice query) may run" },
    { O_S3_LIFECYCLE_INTERVAL, "s3-lifecycle-interval", "SLUICE_S3_LIFECYCLE_INTERVAL", "60",
      "seconds between two sweeps that apply S3 lifecycle rules" },
    { O_S3_LIFECYCLE_DAY, "s3-lifecycle-day", "SLUICE_S3_LIFECYCLE_DAY", "86400",
      "seconds an S3 lifecycle rule's day lasts (shorter to try rules out)" },
    { O_DDB_TTL_INTERVAL, "ddb-ttl-interval", "SLUICE_DDB_TTL_INTERVAL", "10",
      "seconds between two sweeps that delete expired DynamoDB items (time to live)" },
};
#define N_DEFS (sizeof defs / sizeof defs[0])

void config_usage(void *fp)
{
    FILE *f = fp;
    fprintf(f, "usage: sluice serve [flags]\n\n"
               "Serves DynamoDB, DynamoDB Streams, Lambda, Firehose and S3 on one port.\n\n"
               "flags (each also read from its environment variable):\n");
    for (size_t i = 0; i < N_DEFS; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s", defs[i].flag);
        fprintf(f, "  %-22s %-26s %s (default %s)\n", left, defs[i].env, defs[i].help,
                defs[i].def[0] ? defs[i].def : "empty");
    }
    fprintf(f, "  %-22s %-26s %s\n", "--help", "", "print this help");
    fprintf(f, "\ncredentials: SLUICE_ROOT_ACCESS_KEY_ID and SLUICE_ROOT_SECRET_ACCESS_KEY set "
               "the root key;\nwithout them one is created in <data-dir>/credentials.\n");
}

static int parse_uint(const char *v, unsigned max, unsigned *out)
{
    char *end;
    unsigned long n;
    errno = 0;
    n = strtoul(v, &end, 10);
    if (errno || end == v || *end || n > max) {
        return -EINVAL;
    }
    *out = (unsigned)n;
    return 0;
}

static int apply(struct config *c, enum opt_id id, const char *v, const char *from, char *err,
                 size_t errlen)
{
    switch (id) {
    case O_PORT:
        if (parse_uint(v, 65535, &c->port) < 0) {
            snprintf(err, errlen, "%s: port must be a number from 0 to 65535, not '%s'", from, v);
            return -EINVAL;
        }
        return 0;
    case O_BIND:
        if (strlen(v) >= sizeof c->bind) {
            break;
        }
        snprintf(c->bind, sizeof c->bind, "%s", v);
        return 0;
    case O_DATA_DIR:
        if (strlen(v) >= sizeof c->data_dir || !*v) {
            break;
        }
        snprintf(c->data_dir, sizeof c->data_dir, "%s", v);
        return 0;
    case O_REGION:
        if (strlen(v) >= sizeof c->region || !*v) {
            break;
        }
        snprintf(c->region, sizeof c->region, "%s", v);
        return 0;
    case O_ACCOUNT:
        if (strlen(v) != 12 || strspn(v, "0123456789") != 12) {
            snprintf(err, errlen, "%s: account id must be 12 digits, not '%s'", from, v);
            return -EINVAL;
        }
        snprintf(c->account_id, sizeof c->account_id, "%s", v);
        return 0;
    case O_LOG:
        if (log_level_parse(v, &c->log_level) < 0) {
            snprintf(err, errlen, "%s: log level must be error, warn, info or debug, not '%s'",
                     from, v);
            return -EINVAL;
        }
        return 0;
    case O_SYNC:
        if (strcmp(v, "full") == 0) {
            c->sync = STORE_SYNC_FULL;
        }
        else if (strcmp(v, "none") == 0) {
            c->sync = STORE_SYNC_NONE;
        }
        else {
            snprintf(err, errlen, "%s: sync must be full or none, not '%s'", from, v);
            return -EINVAL;
        }
        return 0;
    case O_QUERY_TIMEOUT:
        if (parse_uint(v, 86400, &c->query_timeout) < 0 || c->query_timeout == 0) {
            snprintf(err, errlen, "%s: query timeout must be a number of seconds from 1 to "
                     "86400, not '%s'", from, v);
            return -EINVAL;
        }
        return 0;
    case O_S3_LIFECYCLE_INTERVAL:
    case O_S3_LIFECYCLE_DAY:
    case O_DDB_TTL_INTERVAL: {
        unsigned *dst = id == O_S3_LIFECYCLE_DAY    ? &c->s3_lifecycle_day
                        : id == O_DDB_TTL_INTERVAL ? &c->ddb_ttl_interval
                                                   : &c->s3_lifecycle_interval;
        if (parse_uint(v, 86400, dst) < 0 || *dst == 0) {
            snprintf(err, errlen, "%s: must be a number of seconds from 1 to 86400, not '%s'",
                     from, v);
            return -EINVAL;
        }
        return 0;
    }
    case O_THREADS:
        if (parse_uint(v, 64, &c->threads) < 0 || c->threads == 0) {
            snprintf(err, errlen, "%s: threads must be a number from 1 to 64, not '%s'", from, v);
            return -EINVAL;
        }
        return 0;
    case O_LAMBDA_RUNTIMES:
    case O_LAMBDA_PYTHON:
    case O_LAMBDA_NODE: {
        char *dst = id == O_LAMBDA_RUNTIMES ? c->lambda_runtimes
                    : id == O_LAMBDA_PYTHON ? c->lambda_python
                                            : c->lambda_node;
        if (strlen(v) >= sizeof c->lambda_runtimes) {
            break;
        }
        snprintf(dst, sizeof c->lambda_runtimes, "%s", v);
        return 0;
    }
    case O_LAMBDA_CONCURRENCY:
        if (parse_uint(v, 1000, &c->lambda_concurrency) < 0 || c->lambda_concurrency == 0) {
            snprintf(err, errlen,
                     "%s: lambda concurrency must be a number from 1 to 1000, not '%s'", from, v);
            return -EINVAL;
        }
        return 0;
    }
    snprintf(err, errlen, "%s: value '%s' is empty or too long", from, v);
    return -EINVAL;
}

int config_parse(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_DEFS; i++) {
        const char *v = getenv(defs[i].env);
        int rc = apply(c, defs[i].id, defs[i].def, "default", err, errlen);
        if (rc < 0) {
            return rc;
        }
        if (v && *v) {
            rc = apply(c, defs[i].id, v, defs[i].env, err, errlen);
            if (rc < 0) {
                return rc;
            }
        }
    }
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        const char *val = NULL;
        size_t i;
        size_t nlen;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            config_usage(stdout);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (see sluice serve --help)", arg);
            return -EINVAL;
        }
        arg += 2;
        nlen = strcspn(arg, "=");
        for (i = 0; i < N_DEFS; i++) {
            if (strlen(defs[i].flag) == nlen && strncmp(defs[i].flag, arg, nlen) == 0) {
                break;
            }
        }
        if (i == N_DEFS) {
            snprintf(err, errlen, "unknown flag '%s' (see sluice serve --help)", argv[a]);
            return -EINVAL;
        }
        if (arg[nlen] == '=') {
            val = arg + nlen + 1;
        }
        else if (a + 1 < argc) {
            val = argv[++a];
        }
        else {
            snprintf(err, errlen, "flag --%s needs a value", defs[i].flag);
            return -EINVAL;
        }
        {
            char from[64];
            snprintf(from, sizeof from, "--%s", defs[i].flag);
            int rc = apply(c, defs[i].id, val, from, err, errlen);
            if (rc < 0) {
                return rc;
            }
        }
    }
    return 0;
}
