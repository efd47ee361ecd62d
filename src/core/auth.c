/*
 * auth.c: credentials, loaded from or created in <data-dir>/credentials.
 *
 * The file is the aws CLI's shared-credentials format:
 *   [sluice]
 *   aws_access_key_id = AKIA...
 *   aws_secret_access_key = ...
 * The first profile is the root key. It is written to a temporary file, fsynced and renamed,
 * with mode 0600, so a crash never leaves half a key behind.
 */
#include "core/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/sigv4.h"

#define AUTH_MAX_KEYS 64

struct auth_key {
    char id[129];
    char secret[129];
};

struct auth {
    struct auth_key keys[AUTH_MAX_KEYS];
    size_t n;
    const char *source;
};

static void random_chars(char *out, size_t n, const char *alphabet)
{
    size_t m = strlen(alphabet);
    unsigned char b[64];
    if (RAND_bytes(b, (int)n) != 1) {
        /* Without entropy there is no safe key; the process cannot go on. */
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = alphabet[b[i] % m];
    }
    out[n] = '\0';
}

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) {
        *--e = '\0';
    }
    return s;
}

static int parse_file(struct auth *a, FILE *f)
{
    char line[512];
    struct auth_key cur;
    bool have_id = false, have_secret = false;

    memset(&cur, 0, sizeof cur);
    while (fgets(line, sizeof line, f)) {
        char *s = trim(line);
        char *eq;
        if (*s == '[' || *s == '\0' || *s == '#' || *s == ';') {
            if (*s == '[' && have_id && have_secret && a->n < AUTH_MAX_KEYS) {
                a->keys[a->n++] = cur;
            }
            if (*s == '[') {
                memset(&cur, 0, sizeof cur);
                have_id = have_secret = false;
            }
            continue;
        }
        eq = strchr(s, '=');
        if (!eq) {
            continue;
        }
        *eq = '\0';
        {
            char *k = trim(s), *v = trim(eq + 1);
            if (strcmp(k, "aws_access_key_id") == 0 && strlen(v) < sizeof cur.id) {
                snprintf(cur.id, sizeof cur.id, "%s", v);
                have_id = true;
            }
            else if (strcmp(k, "aws_secret_access_key") == 0 && strlen(v) < sizeof cur.secret) {
                snprintf(cur.secret, sizeof cur.secret, "%s", v);
                have_secret = true;
            }
        }
    }
    if (have_id && have_secret && a->n < AUTH_MAX_KEYS) {
        a->keys[a->n++] = cur;
    }
    return a->n ? 0 : -EINVAL;
}

static int write_file(const char *path, const struct auth_key *k, char *err, size_t errlen)
{
    char tmp[4200];
    char text[512];
    int fd, n;

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    n = snprintf(text, sizeof text,
                 "# sluice credentials. The first profile is the root key.\n"
                 "[sluice]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
                 k->id, k->secret);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(e));
        return -e;
    }
    if (write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
        int e = errno ? errno : EIO;
        close(fd);
        unlink(tmp);
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(e));
        return -e;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        snprintf(err, errlen, "cannot rename %s: %s", tmp, strerror(e));
        return -e;
    }
    return 0;
}

int auth_load(const char *data_dir, struct auth **out, int *created, char *err, size_t errlen)
{
    struct auth *a = xcalloc(1, sizeof *a);
    const char *env_id = getenv("SLUICE_ROOT_ACCESS_KEY_ID");
    const char *env_secret = getenv("SLUICE_ROOT_SECRET_ACCESS_KEY");
    char path[4100];
    FILE *f;
    int rc = 0;

    *created = 0;
    snprintf(path, sizeof path, "%s/credentials", data_dir);
    f = fopen(path, "r");
    if (f) {
        rc = parse_file(a, f);
        fclose(f);
        if (rc < 0) {
            snprintf(err, errlen, "%s has no complete aws_access_key_id / "
                                  "aws_secret_access_key pair", path);
            goto out;
        }
    }
    else if (errno != ENOENT) {
        rc = -errno;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    if (env_id && env_secret && *env_id && *env_secret) {
        if (strlen(env_id) >= sizeof a->keys[0].id ||
            strlen(env_secret) >= sizeof a->keys[0].secret) {
            rc = -EINVAL;
            snprintf(err, errlen, "SLUICE_ROOT_ACCESS_KEY_ID or _SECRET_ACCESS_KEY too long");
            goto out;
        }
        if (a->n == AUTH_MAX_KEYS) {
            a->n--;
        }
        memmove(&a->keys[1], &a->keys[0], a->n * sizeof a->keys[0]);
        snprintf(a->keys[0].id, sizeof a->keys[0].id, "%s", env_id);
        snprintf(a->keys[0].secret, sizeof a->keys[0].secret, "%s", env_secret);
        a->n++;
        a->source = "environment";
    }
    else if (a->n == 0) {
        memcpy(a->keys[0].id, "AKIA", 4);
        random_chars(a->keys[0].id + 4, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
        random_chars(a->keys[0].secret, 40,
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
        rc = write_file(path, &a->keys[0], err, errlen);
        if (rc < 0) {
            goto out;
        }
        a->n = 1;
        a->source = "file";
        *created = 1;
    }
    else {
        a->source = "file";
    }
out:
    if (rc < 0) {
        free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void auth_free(struct auth *a)
{
    if (a) {
        memset(a, 0, sizeof *a);
        free(a);
    }
}

const char *auth_root_access_key(const struct auth *a)
{
    return a->keys[0].id;
}

const char *auth_root_secret(const struct auth *a)
{
    return a->keys[0].secret;
}

const char *auth_root_source(const struct auth *a)
{
    return a->source;
}

int auth_lookup(void *ctx, struct sl_str access_key, char *secret, size_t cap)
{
    const struct auth *a = ctx;
    for (size_t i = 0; i < a->n; i++) {
        if (sl_str_eq_c(access_key, a->keys[i].id)) {
            size_t n = strlen(a->keys[i].secret);
            if (n >= cap) {
                return SIGV4_EUNKNOWNKEY;
            }
            memcpy(secret, a->keys[i].secret, n + 1);
            return 0;
        }
    }
    return SIGV4_EUNKNOWNKEY;
}
