/*
 * auth.h: the credentials sluice accepts.
 *
 * What it is: the table of access key ids and their secrets. On first start in an empty data
 * directory it creates a root key pair and writes it to <data-dir>/credentials (mode 0600) in
 * the aws CLI's shared-credentials format, so that
 *   AWS_SHARED_CREDENTIALS_FILE=<data-dir>/credentials aws --profile sluice ...
 * works; later starts read it back. SLUICE_ROOT_ACCESS_KEY_ID and
 * SLUICE_ROOT_SECRET_ACCESS_KEY, when both are set, replace the root pair (and are not
 * written to disk). Further [profiles] in the file are accepted keys too.
 *
 * What it is not: no policies (S3 keeps bucket owners and bucket policies per access key on
 * top of this table, src/s3/policy.c).
 * Secrets never reach a log line.
 *
 * Threads: auth_load at start-up; auth_lookup (the sigv4 secret callback) from any thread,
 * without locks: the table does not change after start-up.
 */
#ifndef SL_CORE_AUTH_H
#define SL_CORE_AUTH_H

#include <stddef.h>

#include "core/str.h"

struct auth;

/*
 * Loads or creates the credentials of data_dir. On success *created tells whether the root
 * key was generated now. Returns 0, or a negative errno with a sentence in err.
 */
int auth_load(const char *data_dir, struct auth **out, int *created, char *err, size_t errlen);
void auth_free(struct auth *a);

/* The root pair (borrowed, valid until auth_free()). */
const char *auth_root_access_key(const struct auth *a);
const char *auth_root_secret(const struct auth *a);
/* "file" or "environment". */
const char *auth_root_source(const struct auth *a);

/* sigv4_secret_fn: ctx is the struct auth. Returns 0 or SIGV4_EUNKNOWNKEY. */
int auth_lookup(void *ctx, struct sl_str access_key, char *secret, size_t cap);

#endif
