/*
 * test_lambda_code.c: zips as CreateFunction checks them and as environments unpack them
 * (src/lambda/code.c): a good zip inspects and unpacks with its executable bits, garbage and
 * path-escaping entries are refused, and the base64 CodeSha256 is Lambda's.
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
#include <zip.h>

#include "lambda/lam_int.h"

struct entry {
    const char *name;
    const char *data;
    unsigned mode;      /* 0: no Unix attributes */
};

/* Builds a zip in memory (heap, *len bytes). */
static unsigned char *make_zip(const struct entry *e, size_t n, size_t *len)
{
    zip_error_t zerr;
    zip_source_t *src;
    zip_t *za;
    unsigned char *out;
    zip_stat_t st;

    zip_error_init(&zerr);
    src = zip_source_buffer_create(NULL, 0, 0, &zerr);
    assert_non_null(src);
    zip_source_keep(src);
    za = zip_open_from_source(src, ZIP_TRUNCATE, &zerr);
    assert_non_null(za);
    for (size_t i = 0; i < n; i++) {
        zip_source_t *fs = zip_source_buffer(za, e[i].data, strlen(e[i].data), 0);
        zip_int64_t idx = zip_file_add(za, e[i].name, fs, ZIP_FL_OVERWRITE);
        assert_true(idx >= 0);
        if (e[i].mode) {
            zip_file_set_external_attributes(za, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX,
                                             (zip_uint32_t)e[i].mode << 16);
        }
    }
    assert_int_equal(zip_close(za), 0);
    assert_int_equal(zip_source_stat(src, &st), 0);
    out = malloc(st.size);
    assert_int_equal(zip_source_open(src), 0);
    assert_int_equal(zip_source_read(src, out, st.size), (zip_int64_t)st.size);
    zip_source_close(src);
    zip_source_free(src);
    zip_error_fini(&zerr);
    *len = st.size;
    return out;
}

static void test_inspect_good(void **state)
{
    const struct entry e[] = {
        { "bootstrap", "#!/bin/sh\necho hi\n", 0100755 },
        { "lib/helper.py", "x = 1\n", 0100644 },
    };
    struct lam__zip_info info;
    size_t len;
    unsigned char *z = make_zip(e, 2, &len);
    (void)state;
    assert_int_equal(lam__zip_inspect(z, len, &info), 0);
    assert_int_equal(info.entries, 2);
    assert_int_equal(info.unzipped, strlen(e[0].data) + strlen(e[1].data));
    assert_true(info.has_bootstrap);
    assert_true(info.bootstrap_exec);
    free(z);
}

static void test_inspect_refuses(void **state)
{
    const struct entry up[] = { { "../escape.py", "x", 0 } };
    const struct entry abs[] = { { "/etc/passwd", "x", 0 } };
    const struct entry mid[] = { { "a/../../b", "x", 0 } };
    struct lam__zip_info info;
    size_t len;
    unsigned char *z;
    (void)state;
    assert_int_equal(lam__zip_inspect("not a zip at all", 16, &info), LAM__EZIP);
    assert_int_equal(lam__zip_inspect("", 0, &info), LAM__EZIP);
    z = make_zip(up, 1, &len);
    assert_int_equal(lam__zip_inspect(z, len, &info), LAM__EZIP);
    free(z);
    z = make_zip(abs, 1, &len);
    assert_int_equal(lam__zip_inspect(z, len, &info), LAM__EZIP);
    free(z);
    z = make_zip(mid, 1, &len);
    assert_int_equal(lam__zip_inspect(z, len, &info), LAM__EZIP);
    /* A truncated zip is not a zip. */
    assert_int_equal(lam__zip_inspect(z, len / 2, &info), LAM__EZIP);
    free(z);
}

static void test_extract_modes(void **state)
{
    const struct entry e[] = {
        { "bootstrap", "#!/bin/sh\n", 0100755 },
        { "pkg/mod.py", "y = 2\n", 0100644 },
        { "plain.txt", "no unix attributes", 0 },
    };
    char dir[64], zpath[128], dest[128], path[192];
    struct stat sb;
    size_t len;
    unsigned char *z = make_zip(e, 3, &len);
    FILE *f;
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sluice-lamcode-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(zpath, sizeof zpath, "%s/c.zip", dir);
    snprintf(dest, sizeof dest, "%s/out", dir);
    f = fopen(zpath, "wb");
    fwrite(z, 1, len, f);
    fclose(f);
    free(z);
    assert_int_equal(lam__zip_extract(zpath, dest), 0);
    snprintf(path, sizeof path, "%s/bootstrap", dest);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_mode & 0100);
    snprintf(path, sizeof path, "%s/pkg/mod.py", dest);
    assert_int_equal(stat(path, &sb), 0);
    assert_false(sb.st_mode & 0111);
    assert_int_equal(sb.st_size, 6);
    snprintf(path, sizeof path, "%s/plain.txt", dest);
    assert_int_equal(stat(path, &sb), 0);
    /* The destination must be new: a second unpack into it fails. */
    assert_true(lam__zip_extract(zpath, dest) < 0);
    lam__rmtree(dir);
    assert_int_not_equal(stat(dir, &sb), 0);
}

static void test_sha256_b64(void **state)
{
    char out[45];
    (void)state;
    lam__sha256_b64("", 0, out);
    assert_string_equal(out, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    lam__sha256_b64("abc", 3, out);
    assert_string_equal(out, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inspect_good),
        cmocka_unit_test(test_inspect_refuses),
        cmocka_unit_test(test_extract_modes),
        cmocka_unit_test(test_sha256_b64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
