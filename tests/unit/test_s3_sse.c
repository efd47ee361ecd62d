/*
 * test_s3_sse.c: encrypted bodies (src/s3/sse.c): what a writer seals a reader opens, at any
 * offset and across chunks; the file's size is the plain size plus a tag per chunk; a flipped
 * byte, a cut file or another key is refused; an empty body is one authenticated chunk.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3/s3_int.h"

static struct s3 *fake_s3(void)
{
    struct s3 *s3 = xcalloc(1, sizeof *s3);
    s3->aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    memset(s3->sse_key, 7, sizeof s3->sse_key);
    atomic_store(&s3->sse_key_ready, true);
    return s3;
}

/* Seals n bytes of data into a new temporary file; returns its fd. */
static int seal(struct s3 *s3, const struct s3__sse *sse, const unsigned char id[16],
                const unsigned char *data, size_t n)
{
    char path[] = "/tmp/sluice-sse-XXXXXX";
    int fd = mkstemp(path);
    struct s3__sse_writer w;

    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(s3__sse_writer_init(&w, s3, sse, id), 0);
    /* In uneven pieces, as a body arrives. */
    for (size_t off = 0, step = 1; off < n; off += step, step = step * 5 + 3) {
        size_t k = off + step > n ? n - off : step;
        assert_int_equal(s3__sse_write(&w, fd, (const char *)data + off, k), 0);
    }
    assert_int_equal(s3__sse_finish(&w, fd), 0);
    s3__sse_writer_release(&w);
    return fd;
}

static void test_roundtrip_ranges_and_tamper(void **state)
{
    struct s3 *s3 = fake_s3();
    struct s3__sse sse = { .type = S3__SSE_S3 };
    struct s3__obj o;
    size_t n = 3 * S3__SSE_CHUNK + 1234;
    unsigned char *data = xmalloc(n);
    char buf[S3__SSE_CHUNK];
    struct stat st;
    struct s3__sse_reader *rd;
    int fd;
    (void)state;

    for (size_t i = 0; i < n; i++) {
        data[i] = (unsigned char)(i * 13 + 1);
    }
    memset(&o, 0, sizeof o);
    memset(o.body, 0x42, 16);
    o.size = n;
    o.sse_type = S3__SSE_S3;
    fd = seal(s3, &sse, o.body, data, n);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal((size_t)st.st_size, n + 4 * S3__SSE_TAG);
    rd = s3__sse_reader_new(s3, dup(fd), &o, &sse);
    {
        static const size_t offs[] = { 0, 1, S3__SSE_CHUNK - 1, S3__SSE_CHUNK,
                                       2 * S3__SSE_CHUNK + 7, 3 * S3__SSE_CHUNK + 1233 };
        for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
            long got = s3__sse_read(rd, offs[i], buf, sizeof buf);
            assert_true(got > 0);
            assert_memory_equal(buf, data + offs[i], (size_t)got);
        }
        assert_int_equal(s3__sse_read(rd, n, buf, sizeof buf), 0);
    }
    s3__sse_reader_free(rd);
    /* Another key (SSE-C) opens nothing. */
    {
        struct s3__sse c = { .type = S3__SSE_C };
        struct s3__obj oc = o;
        memset(c.ckey, 9, 32);
        oc.sse_type = S3__SSE_C;
        rd = s3__sse_reader_new(s3, dup(fd), &oc, &c);
        assert_int_equal(s3__sse_read(rd, 0, buf, sizeof buf), -1);
        s3__sse_reader_free(rd);
    }
    /* One flipped byte in chunk 1: chunk 0 still reads, chunk 1 does not. */
    {
        unsigned char b;
        assert_int_equal(pread(fd, &b, 1, S3__SSE_CHUNK + S3__SSE_TAG + 5), 1);
        b ^= 1;
        assert_int_equal(pwrite(fd, &b, 1, S3__SSE_CHUNK + S3__SSE_TAG + 5), 1);
        rd = s3__sse_reader_new(s3, dup(fd), &o, &sse);
        assert_true(s3__sse_read(rd, 10, buf, 10) == 10);
        assert_int_equal(s3__sse_read(rd, S3__SSE_CHUNK + 1, buf, 10), -1);
        s3__sse_reader_free(rd);
    }
    /* Cut off after chunk 2: the last chunk is missing. */
    assert_int_equal(ftruncate(fd, 3 * (S3__SSE_CHUNK + S3__SSE_TAG)), 0);
    rd = s3__sse_reader_new(s3, dup(fd), &o, &sse);
    assert_int_equal(s3__sse_read(rd, 3 * S3__SSE_CHUNK, buf, 10), -1);
    s3__sse_reader_free(rd);
    close(fd);
    free(data);
    EVP_CIPHER_free(s3->aes_gcm);
    free(s3);
}

static void test_empty_body(void **state)
{
    struct s3 *s3 = fake_s3();
    struct s3__sse sse = { .type = S3__SSE_S3 };
    struct s3__obj o;
    struct stat st;
    int fd;
    (void)state;

    memset(&o, 0, sizeof o);
    memset(o.body, 1, 16);
    o.sse_type = S3__SSE_S3;
    fd = seal(s3, &sse, o.body, (const unsigned char *)"", 0);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, S3__SSE_TAG);
    assert_int_equal(s3__sse_overhead(0), S3__SSE_TAG);
    assert_int_equal(s3__sse_overhead(S3__SSE_CHUNK + 1), 2 * S3__SSE_TAG);
    close(fd);
    EVP_CIPHER_free(s3->aes_gcm);
    free(s3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_ranges_and_tamper),
        cmocka_unit_test(test_empty_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
