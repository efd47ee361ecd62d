/*
 * config.h: the settings of `sluice serve`, from flags, environment variables and defaults,
 * in that order of precedence. Each flag --name has the variable SLUICE_NAME (dashes become
 * underscores): --data-dir and SLUICE_DATA_DIR.
 */
#ifndef SL_CORE_CONFIG_H
#define SL_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/log.h"
#include "core/store.h"

struct config {
    unsigned port;
    char bind[64];
    char data_dir[1024];
    char region[33];
    char account_id[13];
    enum log_level log_level;
    enum store_sync sync;
    unsigned threads;
    /* Lambda: where the bundled bootstraps live ("" finds them next to the binary), the
     * interpreters of the python3.x and nodejs runtimes ("" finds them), and how many
     * environments one function may run at once. */
    char lambda_runtimes[1024];
    char lambda_python[1024];
    char lambda_node[1024];
    unsigned lambda_concurrency;
    unsigned query_timeout;     /* seconds */
    unsigned s3_lifecycle_interval;     /* seconds between lifecycle sweeps */
    unsigned s3_lifecycle_day;          /* seconds a lifecycle day lasts */
    unsigned ddb_ttl_interval;          /* seconds between DynamoDB time-to-live sweeps */
};

/*
 * Parses argv (the arguments after "serve") over the environment and defaults.
 * Returns 0; 1 when --help was asked (the help is printed); or -EINVAL with a sentence in err.
 */
int config_parse(struct config *c, int argc, char **argv, char *err, size_t errlen);

/* Prints the help of `sluice serve` to f (a FILE *). */
void config_usage(void *f);

#endif
