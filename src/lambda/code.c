/*
 * code.c: function code: zips checked as Lambda checks them, kept durably, unpacked for the
 * environments that run them.
 *
 * What it is: the files of docs/formats.md "Lambda", code:
 *   <data>/lambda/code/<id>.zip   the zip as uploaded, durable: written to <id>.zip.tmp,
 *                                 fsynced, renamed, the directory fsynced, and only then
 *                                 named by a committed function record (like S3 bodies)
 *   <data>/lambda/run/<id>/       the zip unpacked, for running; recreated from the zip when
 *                                 missing, so it needs no fsync
 * Every code version gets a fresh random id: an update never changes files an environment is
 * running. A file or directory no record names is garbage: lam__code_sweep() removes those a
 * crash left behind, at start-up.
 *
 * What it is not: the function records (function.c).
 *
 * Zip entries are unpacked only under the destination: a name that is absolute or has a ".."
 * component is refused (Lambda's "Could not unzip uploaded file"). Symbolic links are created
 * after every file is written, so no entry is ever written through one.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "core/log.h"
#include "lambda/lam_int.h"

#define UNIX_TYPE_MASK 0170000u
#define UNIX_DIR 0040000u
#define UNIX_LINK 0120000u

/* A name that unpacks under the destination: relative, no "." or ".." component. */
static bool safe_name(const char *name)
{
    const char *p = name;
    if (!name[0] || name[0] == '/') {
        return false;
    }
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
            return false;
        }
        if (!slash) {
            break;
        }
        p = slash + 1;
    }
    return true;
}

/* The Unix mode an entry carries (0 when the zip was not made on Unix). */
static unsigned entry_mode(zip_t *za, zip_uint64_t i)
{
    zip_uint8_t opsys;
    zip_uint32_t attr;
    if (zip_file_get_external_attributes(za, i, 0, &opsys, &attr) != 0 ||
        opsys != ZIP_OPSYS_UNIX) {
        return 0;
    }
    return (unsigned)(attr >> 16);
}

int lam__zip_inspect(const void *p, size_t n, struct lam__zip_info *info)
{
    zip_error_t zerr;
    zip_source_t *src;
    zip_t *za;
    zip_int64_t count;
    int rc = 0;

    memset(info, 0, sizeof *info);
    /* libzip opens an empty buffer as an empty archive; no zip is 0 bytes long. */
    if (n == 0) {
        return LAM__EZIP;
    }
    zip_error_init(&zerr);
    src = zip_source_buffer_create(p, n, 0, &zerr);
    if (!src) {
        zip_error_fini(&zerr);
        return LAM__EZIP;
    }
    za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    zip_error_fini(&zerr);
    if (!za) {
        zip_source_free(src);
        return LAM__EZIP;
    }
    count = zip_get_num_entries(za, 0);
    if (count < 0 || count > LAM_ZIP_ENTRIES_MAX) {
        rc = LAM__EZIP;
    }
    for (zip_int64_t i = 0; rc == 0 && i < count; i++) {
        zip_stat_t st;
        if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME) ||
            !(st.valid & ZIP_STAT_SIZE) || !safe_name(st.name)) {
            rc = LAM__EZIP;
            break;
        }
        info->entries++;
        info->unzipped += st.size;
        if (info->unzipped > LAM_UNZIPPED_MAX) {
            rc = LAM__EUNZIPPED;
            break;
        }
        if (strcmp(st.name, "bootstrap") == 0) {
            unsigned mode = entry_mode(za, (zip_uint64_t)i);
            info->has_bootstrap = true;
            info->bootstrap_exec = (mode & 0111) != 0;
        }
    }
    zip_discard(za); /* frees src too */
    return rc;
}

/* mkdir -p of the directories of rel under base. */
static int make_parents(const char *base, const char *rel, bool whole)
{
    char path[4096];
    size_t bl = strlen(base);
    size_t rl = strlen(rel);
    if (bl + 1 + rl + 1 > sizeof path) {
        return -ENAMETOOLONG;
    }
    memcpy(path, base, bl);
    path[bl] = '/';
    memcpy(path + bl + 1, rel, rl + 1);
    for (char *p = path + bl + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    if (whole && mkdir(path, 0755) != 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

struct link_entry {
    char *name;
    char *target;
};

static int write_entry(zip_t *za, zip_uint64_t i, const char *dest, const char *name,
                       unsigned mode, uint64_t *total)
{
    char path[4096];
    char buf[65536];
    zip_file_t *zf;
    zip_int64_t got;
    int fd, rc = 0;
    mode_t perm = (mode & 0777) ? (mode_t)((mode & 0777) | 0600) : 0644;

    snprintf(path, sizeof path, "%s/%s", dest, name);
    rc = make_parents(dest, name, false);
    if (rc) {
        return rc;
    }
    zf = zip_fopen_index(za, i, 0);
    if (!zf) {
        return LAM__EZIP;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, perm);
    if (fd < 0) {
        rc = -errno;
        zip_fclose(zf);
        return rc;
    }
    while ((got = zip_fread(zf, buf, sizeof buf)) > 0) {
        const char *p = buf;
        size_t left = (size_t)got;
        *total += (uint64_t)got;
        if (*total > LAM_UNZIPPED_MAX) {
            rc = LAM__EUNZIPPED;
            break;
        }
        while (left > 0) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w < 0) {
                rc = -errno;
                break;
            }
            p += w;
            left -= (size_t)w;
        }
        if (rc) {
            break;
        }
    }
    if (got < 0 && rc == 0) {
        rc = LAM__EZIP; /* a CRC or inflate error */
    }
    if (zip_fclose(zf) != 0 && rc == 0) {
        rc = LAM__EZIP;
    }
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
    }
    /* open() applied the umask; the entry's mode (its executable bits) is what counts. */
    if (rc == 0 && chmod(path, perm) != 0) {
        rc = -errno;
    }
    return rc;
}

static int read_link(zip_t *za, zip_uint64_t i, char **out)
{
    char buf[4096];
    zip_file_t *zf = zip_fopen_index(za, i, 0);
    zip_int64_t got;
    if (!zf) {
        return LAM__EZIP;
    }
    got = zip_fread(zf, buf, sizeof buf - 1);
    zip_fclose(zf);
    if (got <= 0) {
        return LAM__EZIP;
    }
    buf[got] = '\0';
    *out = xstrdup(buf);
    return 0;
}

int lam__zip_extract(const char *zip_path, const char *dest)
{
    int zerr = 0, rc = 0;
    zip_t *za = zip_open(zip_path, ZIP_RDONLY, &zerr);
    zip_int64_t count;
    struct link_entry *links = NULL;
    size_t n_links = 0;
    uint64_t total = 0;

    if (!za) {
        return zerr == ZIP_ER_OPEN || zerr == ZIP_ER_NOENT ? -ENOENT : LAM__EZIP;
    }
    if (mkdir(dest, 0755) != 0) {
        rc = -errno;
        zip_discard(za);
        return rc;
    }
    count = zip_get_num_entries(za, 0);
    for (zip_int64_t i = 0; rc == 0 && i < count; i++) {
        zip_stat_t st;
        unsigned mode;
        size_t nl;
        if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) != 0 || !safe_name(st.name)) {
            rc = LAM__EZIP;
            break;
        }
        mode = entry_mode(za, (zip_uint64_t)i);
        nl = strlen(st.name);
        if (st.name[nl - 1] == '/' || (mode & UNIX_TYPE_MASK) == UNIX_DIR) {
            rc = make_parents(dest, st.name, true);
        }
        else if ((mode & UNIX_TYPE_MASK) == UNIX_LINK) {
            char *target = NULL;
            rc = read_link(za, (zip_uint64_t)i, &target);
            if (rc == 0) {
                links = xrealloc(links, (n_links + 1) * sizeof *links);
                links[n_links].name = xstrdup(st.name);
                links[n_links].target = target;
                n_links++;
            }
        }
        else {
            rc = write_entry(za, (zip_uint64_t)i, dest, st.name, mode, &total);
        }
    }
    for (size_t i = 0; i < n_links; i++) {
        if (rc == 0) {
            char path[4096];
            rc = make_parents(dest, links[i].name, false);
            snprintf(path, sizeof path, "%s/%s", dest, links[i].name);
            if (rc == 0 && symlink(links[i].target, path) != 0 && errno != EEXIST) {
                rc = -errno;
            }
        }
        free(links[i].name);
        free(links[i].target);
    }
    free(links);
    zip_discard(za);
    if (rc) {
        lam__rmtree(dest);
    }
    return rc;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void lam__rmtree(const char *path)
{
    nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

void lam__sha256_b64(const void *p, size_t n, char out[45])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    sl_base64_encode(md, sizeof md, out);
}

static void new_id(char id[33])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) {
        /* No entropy: ids could collide and overwrite code; going on is unsafe. */
        abort();
    }
    sl_hex(b, sizeof b, id);
}

int lam__code_store(struct lam *l, const void *p, size_t n, char id[33])
{
    char tmp[64], fin[64];
    const char *c = p;
    int fd, rc = 0;

    new_id(id);
    snprintf(tmp, sizeof tmp, "%s.zip.tmp", id);
    snprintf(fin, sizeof fin, "%s.zip", id);
    fd = openat(l->code_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    while (n > 0 && rc == 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            rc = -errno;
            break;
        }
        c += w;
        n -= (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0) {
        rc = -errno;
    }
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
    }
    if (rc == 0 && renameat(l->code_fd, tmp, l->code_fd, fin) != 0) {
        rc = -errno;
    }
    /* The rename is durable only once the directory is. */
    if (rc == 0 && fsync(l->code_fd) != 0) {
        rc = -errno;
    }
    if (rc) {
        unlinkat(l->code_fd, tmp, 0);
        unlinkat(l->code_fd, fin, 0);
    }
    return rc;
}

int lam__code_dir(struct lam *l, const char *id, char *out, size_t cap)
{
    char zip[2048], tmp[2048];
    unsigned char rnd[4];
    struct stat sb;
    int rc = 0;

    snprintf(out, cap, "%s/%s", l->run_dir, id);
    if (stat(out, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        return 0;
    }
    pthread_mutex_lock(&l->extract_mu);
    if (stat(out, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        char hex[9];
        RAND_bytes(rnd, sizeof rnd);
        sl_hex(rnd, sizeof rnd, hex);
        snprintf(zip, sizeof zip, "%s/%s.zip", l->code_dir, id);
        snprintf(tmp, sizeof tmp, "%s/%s.tmp-%s", l->run_dir, id, hex);
        rc = lam__zip_extract(zip, tmp);
        if (rc == 0 && rename(tmp, out) != 0) {
            rc = -errno;
            lam__rmtree(tmp);
        }
    }
    pthread_mutex_unlock(&l->extract_mu);
    return rc;
}

void lam__code_remove(struct lam *l, const char *id)
{
    char path[2048];
    snprintf(path, sizeof path, "%s.zip", id);
    if (unlinkat(l->code_fd, path, 0) != 0 && errno != ENOENT) {
        log_warn("lambda", "cannot remove lambda/code/%s: %s", path, strerror(errno));
    }
    snprintf(path, sizeof path, "%s/%s", l->run_dir, id);
    lam__rmtree(path);
}

static bool referenced(char **ids, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(ids[i]) == len && memcmp(ids[i], name, len) == 0) {
            return true;
        }
    }
    return false;
}

int lam__code_sweep(struct lam *l)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    char **ids = NULL;
    size_t n = 0;
    DIR *d;
    struct dirent *de;
    int rc = store_read_begin(l->st, &txn);

    if (rc) {
        return rc;
    }
    rc = mdb_cursor_open(txn, l->functions, &c);
    for (int g = rc ? MDB_NOTFOUND : mdb_cursor_get(c, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        json_error_t jerr;
        json_t *rec = json_loadb(v.mv_data, v.mv_size, 0, &jerr);
        const char *id = json_string_value(json_object_get(rec, "CodeId"));
        if (id) {
            ids = xrealloc(ids, (n + 1) * sizeof *ids);
            ids[n++] = xstrdup(id);
        }
        json_decref(rec);
    }
    if (c) {
        mdb_cursor_close(c);
    }
    store_read_end(l->st, txn);
    d = opendir(l->code_dir);
    while (d && (de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.') {
            continue;
        }
        if (len == 36 && strcmp(de->d_name + 32, ".zip") == 0 &&
            referenced(ids, n, de->d_name, 32)) {
            continue;
        }
        log_info("lambda", "removing unreferenced lambda/code/%s", de->d_name);
        unlinkat(l->code_fd, de->d_name, 0);
    }
    if (d) {
        closedir(d);
    }
    d = opendir(l->run_dir);
    while (d && (de = readdir(d)) != NULL) {
        char path[2048];
        if (de->d_name[0] == '.') {
            continue;
        }
        if (strlen(de->d_name) == 32 && referenced(ids, n, de->d_name, 32)) {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", l->run_dir, de->d_name);
        lam__rmtree(path);
    }
    if (d) {
        closedir(d);
    }
    for (size_t i = 0; i < n; i++) {
        free(ids[i]);
    }
    free(ids);
    return 0;
}
