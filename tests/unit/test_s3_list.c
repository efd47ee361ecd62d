/*
 * test_s3_list.c: the S3 C API on a real store (src/s3/list.c, object.c, service.c): puts
 * from a buffer and a file, opens, listings in full-key order including long keys that share
 * their inline part, overwrites removing the replaced body, the start-up sweep (and the clean
 * mark's removal synced by the first change), the encryption key made by its first use, a
 * staged put recorded (or rolled back) inside a caller's own writer op, and small bodies kept
 * inline in s3.bodies (docs/formats.md, "S3 inline bodies") instead of as files.
 *
 * Each test works in a fresh mkdtemp() directory that it removes, and frees everything it
 * made, so the sanitizers see nothing leaked (R32).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3/s3_int.h"

static char tmpdir[256];
static struct store *st;
static struct s3 *s3;

static void rm_rf(const char *path)
{
    struct stat sb;
    DIR *d;
    struct dirent *e;
    char sub[1024];

    if (lstat(path, &sb) < 0) {
        return;
    }
    if (S_ISDIR(sb.st_mode)) {
        d = opendir(path);
        if (d) {
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                    continue;
                }
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_rf(sub);
            }
            closedir(d);
        }
        rmdir(path);
    }
    else {
        unlink(path);
    }
}

static void open_s3(void)
{
    struct http_service *svc;
    assert_int_equal(s3_new(st, tmpdir, "us-east-1", "123456789012", &s3, &svc), 0);
}

static int setup(void **state)
{
    struct store_options opt = { .dir = tmpdir, .sync = STORE_SYNC_NONE };
    char err[256];
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sluice-s3-XXXXXX");
    if (!mkdtemp(tmpdir) || store_open(&opt, &st, err, sizeof err) != 0) {
        return -1;
    }
    open_s3();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    s3_free(s3);
    store_close(st);
    rm_rf(tmpdir);
    return 0;
}

static size_t count_files(void)
{
    char path[300];
    DIR *d;
    struct dirent *e;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/objects", tmpdir);
    d = opendir(path);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

/* The number of inline bodies in s3.bodies. */
static size_t count_inline(void)
{
    MDB_txn *txn;
    MDB_stat ms;
    assert_int_equal(store_read_begin(st, &txn), 0);
    assert_int_equal(mdb_stat(txn, s3->bodies, &ms), 0);
    store_read_end(st, txn);
    return ms.ms_entries;
}

struct seen {
    char keys[64][S3_KEY_MAX + 1];
    size_t n;
    size_t stop_after;
};

static int collect(void *ctx, struct sl_str key, const struct s3_object_info *info)
{
    struct seen *s = ctx;
    (void)info;
    if (s->n == 64) {
        return -1;
    }
    memcpy(s->keys[s->n], key.p, key.len);
    s->keys[s->n][key.len] = '\0';
    s->n++;
    return s->stop_after && s->n == s->stop_after ? S3_ESTOP : 0;
}

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_put_open_list(void **state)
{
    static char keys[12][S3_KEY_MAX + 1];
    char *sorted[12];
    struct seen seen;
    struct s3_object_info info;
    char buf[64];
    int fd;
    (void)state;

    assert_int_equal(s3_bucket_create(s3, "bkt"), 0);
    assert_int_equal(s3_bucket_create(s3, "bkt"), -EEXIST);
    assert_int_equal(s3_bucket_create(s3, "Bad_Name"), -EINVAL);
    /* Short keys, and long keys that share their first 400 bytes (one LMDB group) but differ
     * after it, put in an order unlike the sorted one. */
    for (int i = 0; i < 12; i++) {
        if (i < 4) {
            snprintf(keys[i], sizeof keys[i], "short/%c", 'd' - i);
        }
        else {
            memset(keys[i], 'L', 700);
            keys[i][700] = '\0';
            keys[i][500 + (i % 3)] = (char)('z' - i);
            keys[i][650] = (char)('a' + i);
        }
        sorted[i] = keys[i];
        assert_int_equal(s3_put_object_from_buf(s3, "bkt", sl_str_c(keys[i]), keys[i], 7, NULL,
                                                NULL),
                         0);
    }
    qsort(sorted, 12, sizeof sorted[0], strp_cmp);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(s3_list(s3, "bkt", SL_STR_NULL, SL_STR_NULL, collect, &seen), 0);
    assert_int_equal(seen.n, 12);
    for (int i = 0; i < 12; i++) {
        assert_string_equal(seen.keys[i], sorted[i]);
    }
    /* Resuming after a key in the middle of the long group. */
    memset(&seen, 0, sizeof seen);
    assert_int_equal(s3_list(s3, "bkt", SL_STR_NULL, sl_str_c(sorted[7]), collect, &seen), 0);
    assert_int_equal(seen.n, 4);
    assert_string_equal(seen.keys[0], sorted[8]);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(s3_list(s3, "bkt", SL_STR_LIT("short/"), SL_STR_NULL, collect, &seen), 0);
    assert_int_equal(seen.n, 4);
    assert_string_equal(seen.keys[0], "short/a");
    memset(&seen, 0, sizeof seen);
    seen.stop_after = 2;
    assert_int_equal(s3_list(s3, "bkt", SL_STR_NULL, SL_STR_NULL, collect, &seen), 0);
    assert_int_equal(seen.n, 2);

    assert_int_equal(s3_object_open(s3, "bkt", sl_str_c(keys[5]), &fd, &info), 0);
    assert_int_equal(info.size, 7);
    assert_string_equal(info.content_type, "binary/octet-stream");
    assert_int_equal(read(fd, buf, sizeof buf), 7);
    assert_memory_equal(buf, keys[5], 7);
    close(fd);
    assert_int_equal(s3_object_open(s3, "bkt", SL_STR_LIT("nope"), &fd, NULL), S3_ENOKEY);
    assert_int_equal(s3_object_open(s3, "nobkt", SL_STR_LIT("x"), &fd, NULL), S3_ENOBUCKET);
    assert_int_equal(s3_list(s3, "nobkt", SL_STR_NULL, SL_STR_NULL, collect, &seen),
                     S3_ENOBUCKET);
    assert_int_equal(s3_put_object_from_buf(s3, "nobkt", SL_STR_LIT("x"), "x", 1, NULL, NULL),
                     S3_ENOBUCKET);
    assert_int_equal(s3_put_object_from_buf(s3, "bkt", SL_STR_NULL, "x", 1, NULL, NULL),
                     S3_EKEY);
    /* Seven bytes each: every body is inline, none is a file. */
    assert_int_equal(count_files(), 0);
    assert_int_equal(count_inline(), 12);
}

static void test_overwrite_from_fd_and_sweep(void **state)
{
    struct s3_put_options opt = { .content_type = "text/csv" };
    struct s3_object_info info;
    char path[400], buf[32];
    int fd, rfd;
    (void)state;

    assert_int_equal(s3_bucket_create(s3, "bkt"), 0);
    assert_int_equal(s3_put_object_from_buf(s3, "bkt", SL_STR_LIT("k"), "first", 5, NULL, NULL),
                     0);
    /* An open reader keeps the bytes it opened even when the object is overwritten. */
    assert_int_equal(s3_object_open(s3, "bkt", SL_STR_LIT("k"), &rfd, NULL), 0);
    snprintf(path, sizeof path, "%s/src.csv", tmpdir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "a,b\n1,2\n", 8), 8);
    assert_int_equal(s3_put_object_from_fd(s3, "bkt", SL_STR_LIT("k"), fd, &opt, &info), 0);
    close(fd);
    assert_int_equal(info.size, 8);
    assert_int_equal(strlen(info.etag), 34);
    /* Both bodies were small: the overwrite dropped the first inline body in its commit. */
    assert_int_equal(count_files(), 0);
    assert_int_equal(count_inline(), 1);
    assert_int_equal(read(rfd, buf, sizeof buf), 5);
    assert_memory_equal(buf, "first", 5);
    close(rfd);

    /* Crash leftovers: a temporary file and a body no record names. */
    snprintf(path, sizeof path, "%s/objects/0123456789abcdef0123456789abcdef.tmp", tmpdir);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    close(fd);
    snprintf(path, sizeof path, "%s/objects/00000000000000000000000000000000", tmpdir);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    close(fd);
    assert_int_equal(count_files(), 2);
    /* A clean shutdown marks the directory, and the start after it does not sweep (its cost
     * grows with the objects): the leftovers stay, and the mark is gone once started. */
    s3_free(s3);
    snprintf(path, sizeof path, "%s/objects/.clean", tmpdir);
    assert_int_equal(access(path, F_OK), 0);
    open_s3();
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(count_files(), 2);
    /* Start-up only unlinked the mark; the first change of objects/ syncs that removal (an
     * inline put too: it may spill to a file). */
    assert_true(atomic_load(&s3->unmark_pending));
    assert_int_equal(s3_put_object_from_buf(s3, "bkt", SL_STR_LIT("k2"), "x", 1, NULL, NULL),
                     0);
    assert_false(atomic_load(&s3->unmark_pending));
    assert_int_equal(count_files(), 2);
    assert_int_equal(count_inline(), 2);
    /* A crash leaves no mark (here: taken away after the shutdown): the next start sweeps,
     * and keeps the inline bodies their records name. */
    s3_free(s3);
    assert_int_equal(unlink(path), 0);
    open_s3();
    assert_false(atomic_load(&s3->unmark_pending));
    assert_int_equal(count_files(), 0);
    assert_int_equal(count_inline(), 2);
    assert_int_equal(s3_object_open(s3, "bkt", SL_STR_LIT("k"), &rfd, &info), 0);
    assert_string_equal(info.content_type, "text/csv");
    assert_int_equal(read(rfd, buf, sizeof buf), 8);
    close(rfd);
}

/* A new data directory gets its encryption key on the first encrypted put, not at start-up;
 * the next start loads the same key. */
static void test_sse_key_made_on_first_use(void **state)
{
    struct s3__sse sse = { .type = S3__SSE_S3 };
    struct s3__sse_writer w;
    unsigned char id[16] = { 1 }, made[32], onfile[32];
    char path[300];
    struct stat sb;
    int fd;
    (void)state;

    snprintf(path, sizeof path, "%s/s3-sse.key", tmpdir);
    assert_int_equal(access(path, F_OK), -1);
    assert_false(atomic_load(&s3->sse_key_ready));
    assert_int_equal(s3__sse_writer_init(&w, s3, &sse, id), 0);
    s3__sse_writer_release(&w);
    assert_true(atomic_load(&s3->sse_key_ready));
    memcpy(made, s3->sse_key, sizeof made);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 32);
    assert_int_equal(sb.st_mode & 0777, 0600);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, onfile, sizeof onfile), 32);
    close(fd);
    assert_memory_equal(made, onfile, 32);
    /* A second use makes nothing new. */
    assert_int_equal(s3__sse_key_ready(s3), 0);
    assert_memory_equal(s3->sse_key, made, 32);

    s3_free(s3);
    open_s3();
    assert_true(atomic_load(&s3->sse_key_ready));
    assert_memory_equal(s3->sse_key, made, 32);
}

/* A caller's op that records a staged object along with its own (here: nothing) changes,
 * and fails afterwards when asked to, as Firehose's flush op would on a lost race. */
struct caller_op {
    struct store_op base;
    struct s3_staged *sg;
    bool fail_after;
};

static int caller_apply(struct store_op *op, MDB_txn *txn)
{
    struct caller_op *c = (struct caller_op *)op;
    int rc = s3_staged_apply(c->sg, txn);
    if (rc == 0 && c->fail_after) {
        rc = STORE_ABORTED;
    }
    return rc;
}

static void test_staged_put_in_a_callers_transaction(void **state)
{
    struct caller_op c;
    struct s3_object_info info;
    int fd, rc;
    (void)state;

    assert_int_equal(s3_bucket_create(s3, "bkt"), 0);
    memset(&c, 0, sizeof c);
    c.base.apply = caller_apply;
    assert_int_equal(s3_stage_from_buf(s3, "bkt", SL_STR_LIT("staged"), "abc", 3, NULL, &c.sg),
                     0);
    s3_staged_info(c.sg, &info);
    assert_string_equal(info.etag, "\"900150983cd24fb0d6963f7d28e17f72\"");
    /* Staged: the body is in memory (inline), the object is not visible. */
    assert_int_equal(count_files(), 0);
    assert_int_equal(count_inline(), 0);
    assert_int_equal(s3_object_open(s3, "bkt", SL_STR_LIT("staged"), &fd, NULL), S3_ENOKEY);
    c.fail_after = true;
    rc = store_submit_wait(st, &c.base);
    assert_int_equal(rc, STORE_ABORTED);
    s3_staged_finish(c.sg, false);
    assert_int_equal(count_files(), 0);
    assert_int_equal(count_inline(), 0);
    assert_int_equal(s3_object_open(s3, "bkt", SL_STR_LIT("staged"), &fd, NULL), S3_ENOKEY);

    assert_int_equal(s3_stage_from_buf(s3, "bkt", SL_STR_LIT("staged"), "abc", 3, NULL, &c.sg),
                     0);
    c.fail_after = false;
    assert_int_equal(store_submit_wait(st, &c.base), 0);
    s3_staged_finish(c.sg, true);
    assert_int_equal(s3_object_open(s3, "bkt", SL_STR_LIT("staged"), &fd, &info), 0);
    close(fd);
    assert_int_equal(info.size, 3);
    assert_int_equal(count_files(), 0);
    assert_int_equal(count_inline(), 1);

    /* A staged put into a bucket that is gone fails in apply. */
    assert_int_equal(s3_stage_from_buf(s3, "gone", SL_STR_LIT("k"), "x", 1, NULL, &c.sg), 0);
    assert_int_equal(store_submit_wait(st, &c.base), S3_ENOBUCKET);
    s3_staged_finish(c.sg, false);
    assert_int_equal(count_inline(), 1);
    s3_staged_finish(NULL, false);
}

/* Reads all of fd from its position into buf (cap bytes). Returns the count. */
static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t got;
    while (n < cap && (got = read(fd, buf + n, cap - n)) > 0) {
        n += (size_t)got;
    }
    return n;
}

static void test_inline_threshold_and_replacements(void **state)
{
    size_t big_n = S3__INLINE_MAX + 1;
    char *big = malloc(big_n), *buf = malloc(big_n + 16);
    char path[400];
    int fd, rfd;
    (void)state;

    assert_non_null(big);
    assert_non_null(buf);
    for (size_t i = 0; i < big_n; i++) {
        big[i] = (char)(i * 7 + (i >> 9));
    }
    assert_int_equal(s3_bucket_create(s3, "bkt"), 0);
    /* Exactly the threshold is inline; one byte more is a file. */
    assert_int_equal(s3_put_object_from_buf(s3, "bkt", SL_STR_LIT("max"), big, S3__INLINE_MAX,
                                            NULL, NULL), 0);
    assert_int_equal(count_inline(), 1);
    assert_int_equal(count_files(), 0);
    assert_int_equal(s3_put_object_from_buf(s3, "bkt", SL_STR_LIT("big"), big, big_n, NULL,
                                            NULL), 0);
    assert_int_equal(count_inline(), 1);
    assert_int_equal(count_files(), 1);
    /* An inline body opens as an fd (a memfd) with every byte, at position 0. */
    assert_int_equal(s3_object_open(s3, "bkt", SL_STR_LIT("max"), &rfd, NULL), 0);
    assert_int_equal(read_all(rfd, buf, big_n + 16), S3__INLINE_MAX);
    assert_memory_equal(buf, big, S3__INLINE_MAX);
    close(rfd);
    /* A file replaced by an inline body: the file goes after the commit. */
    assert_int_equal(s3_put_object_from_buf(s3, "bkt", SL_STR_LIT("big"), "tiny", 4, NULL,
                                            NULL), 0);
    assert_int_equal(count_inline(), 2);
    assert_int_equal(count_files(), 0);
    /* An inline body replaced by a file: the inline body goes in the same commit. */
    assert_int_equal(s3_put_object_from_buf(s3, "bkt", SL_STR_LIT("max"), big, big_n, NULL,
                                            NULL), 0);
    assert_int_equal(count_inline(), 1);
    assert_int_equal(count_files(), 1);
    assert_int_equal(s3_object_open(s3, "bkt", SL_STR_LIT("max"), &rfd, NULL), 0);
    assert_int_equal(read_all(rfd, buf, big_n + 16), big_n);
    assert_memory_equal(buf, big, big_n);
    close(rfd);
    /* A small file is inline. */
    snprintf(path, sizeof path, "%s/small.bin", tmpdir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, big, 1000), 1000);
    assert_int_equal(s3_put_object_from_fd(s3, "bkt", SL_STR_LIT("f"), fd, NULL, NULL), 0);
    close(fd);
    unlink(path);
    assert_int_equal(count_inline(), 2);
    assert_int_equal(count_files(), 1);
    free(big);
    free(buf);
}

/* An inline put that receives more bytes than it announced moves them to a file. */
static void test_inline_spill(void **state)
{
    struct s3__put *p = calloc(1, sizeof *p);
    char chunk[1000];
    (void)state;

    assert_non_null(p);
    memset(chunk, 'x', sizeof chunk);
    assert_int_equal(s3_bucket_create(s3, "bkt"), 0);
    p->want_inline = true;
    p->inl_cap = 1500;
    assert_int_equal(s3__put_begin(p, s3, "bkt", SL_STR_LIT("s")), 0);
    assert_true(p->obj.inline_body);
    assert_int_equal(s3__put_feed(p, chunk, sizeof chunk), 0);
    assert_int_equal(count_files(), 0);
    assert_int_equal(s3__put_feed(p, chunk, sizeof chunk), 0);
    assert_false(p->obj.inline_body);
    assert_null(p->inl);
    assert_int_equal(count_files(), 1); /* the .tmp file */
    assert_true(p->obj.size == 2000);
    s3__put_cleanup(p);
    assert_int_equal(count_files(), 0);
    free(p);
}

/* A body fed in pieces of any size reaches its file whole and in order: the put gathers
 * pieces into whole buffers before it writes, and its seal writes the rest. */
static void test_body_pieces_gathered(void **state)
{
    static const size_t sizes[] = { 1, 4093, 300000, 262144, 262143, 12345, 8192 };
    struct s3__put *p = calloc(1, sizeof *p);
    size_t total = 0, off = 0;
    char *all, *back;
    int rfd;
    struct stat fst;
    unsigned char md5[16];
    struct s3__checksum ck;
    (void)state;

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        total += sizes[i];
    }
    all = malloc(total);
    back = malloc(total);
    assert_non_null(p);
    assert_non_null(all);
    assert_non_null(back);
    for (size_t i = 0; i < total; i++) {
        all[i] = (char)(i * 131 + (i >> 11));
    }
    assert_int_equal(s3_bucket_create(s3, "bkt"), 0);
    p->ck_algo = S3__CK_CRC32C;
    assert_int_equal(s3__put_begin(p, s3, "bkt", SL_STR_LIT("pieces")), 0);
    assert_false(p->obj.inline_body);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        assert_int_equal(s3__put_feed(p, all + off, sizes[i]), 0);
        off += sizes[i];
        /* What is not in the file yet is less than one buffer, and is the tail. */
        assert_int_equal(fstat(p->fd, &fst), 0);
        assert_true((size_t)fst.st_size + p->wlen == off);
        assert_true(p->wlen < S3__PUT_WBUF);
    }
    assert_int_equal(s3__put_finish(p), 0);
    assert_int_equal(fstat(p->fd, &fst), 0);
    assert_true((size_t)fst.st_size == total);
    rfd = openat(s3->objdir_fd, p->tmp, O_RDONLY | O_CLOEXEC);
    assert_true(rfd >= 0);
    assert_int_equal(read_all(rfd, back, total), total);
    close(rfd);
    assert_memory_equal(back, all, total);
    /* The digests, of which full buffers were taken on the digest thread, are those of the
     * whole body in order. */
    assert_true(p->dg_tried);
    assert_int_equal(EVP_Digest(all, total, md5, NULL, EVP_md5(), NULL), 1);
    assert_memory_equal(p->obj.md5, md5, 16);
    assert_int_equal(s3__ck_of(S3__CK_CRC32C, all, total, &ck), 0);
    assert_int_equal(p->obj.ck.len, ck.len);
    assert_memory_equal(p->obj.ck.value, ck.value, ck.len);
    s3__put_cleanup(p);
    assert_int_equal(count_files(), 0);
    /* A put given up with its digest thread at work: cleanup ends the thread (ASan would
     * report its memory) and removes the file. */
    memset(p, 0, sizeof *p);
    assert_int_equal(s3__put_begin(p, s3, "bkt", SL_STR_LIT("abandoned")), 0);
    for (off = 0; off + 100000 <= total; off += 100000) {
        assert_int_equal(s3__put_feed(p, all + off, 100000), 0);
    }
    assert_non_null(p->dg);
    s3__put_cleanup(p);
    assert_null(p->dg);
    assert_int_equal(count_files(), 0);
    free(p);
    free(all);
    free(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_open_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwrite_from_fd_and_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inline_threshold_and_replacements, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inline_spill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_pieces_gathered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sse_key_made_on_first_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_staged_put_in_a_callers_transaction, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("s3_list", tests, NULL, NULL);
}
