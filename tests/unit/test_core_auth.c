/*
 * test_core_auth.c: credentials created, reloaded and overridden (src/core/auth.c).
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

#include "core/auth.h"
#include "core/sigv4.h"

static void rm_dir(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/credentials", dir);
    unlink(p);
    rmdir(dir);
}

static void test_create_and_reload(void **state)
{
    char dir[] = "/tmp/sluice-auth-XXXXXX";
    char err[256], path[512], secret[129], id[32], sec[64];
    struct auth *a = NULL, *b = NULL;
    struct stat sb;
    int created = -1;
    (void)state;
    unsetenv("SLUICE_ROOT_ACCESS_KEY_ID");
    unsetenv("SLUICE_ROOT_SECRET_ACCESS_KEY");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(auth_load(dir, &a, &created, err, sizeof err), 0);
    assert_int_equal(created, 1);
    assert_int_equal(strlen(auth_root_access_key(a)), 20);
    assert_memory_equal(auth_root_access_key(a), "AKIA", 4);
    assert_int_equal(strlen(auth_root_secret(a)), 40);
    snprintf(path, sizeof path, "%s/credentials", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    snprintf(id, sizeof id, "%s", auth_root_access_key(a));
    snprintf(sec, sizeof sec, "%s", auth_root_secret(a));

    assert_int_equal(auth_load(dir, &b, &created, err, sizeof err), 0);
    assert_int_equal(created, 0);
    assert_string_equal(auth_root_access_key(b), id);
    assert_int_equal(auth_lookup(b, sl_str_c(id), secret, sizeof secret), 0);
    assert_string_equal(secret, sec);
    assert_int_equal(auth_lookup(b, sl_str_c("AKIANOTAKEY000000000"), secret, sizeof secret),
                     SIGV4_EUNKNOWNKEY);
    auth_free(a);
    auth_free(b);
    rm_dir(dir);
}

static void test_environment_overrides(void **state)
{
    char dir[] = "/tmp/sluice-auth-XXXXXX";
    char err[256], secret[129], path[512];
    struct auth *a = NULL;
    int created = -1;
    (void)state;
    assert_non_null(mkdtemp(dir));
    setenv("SLUICE_ROOT_ACCESS_KEY_ID", "AKIAENVKEY", 1);
    setenv("SLUICE_ROOT_SECRET_ACCESS_KEY", "envsecret", 1);
    assert_int_equal(auth_load(dir, &a, &created, err, sizeof err), 0);
    assert_int_equal(created, 0);
    assert_string_equal(auth_root_source(a), "environment");
    assert_string_equal(auth_root_access_key(a), "AKIAENVKEY");
    assert_int_equal(auth_lookup(a, sl_str_c("AKIAENVKEY"), secret, sizeof secret), 0);
    assert_string_equal(secret, "envsecret");
    /* Environment keys are not written to disk. */
    snprintf(path, sizeof path, "%s/credentials", dir);
    assert_int_equal(access(path, F_OK), -1);
    auth_free(a);
    unsetenv("SLUICE_ROOT_ACCESS_KEY_ID");
    unsetenv("SLUICE_ROOT_SECRET_ACCESS_KEY");
    rm_dir(dir);
}

static void test_extra_profiles_and_bad_file(void **state)
{
    char dir[] = "/tmp/sluice-auth-XXXXXX";
    char err[256], secret[129], path[512];
    struct auth *a = NULL;
    int created;
    FILE *f;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/credentials", dir);
    f = fopen(path, "w");
    fputs("[sluice]\naws_access_key_id = AKIAONE\naws_secret_access_key = one\n\n"
          "[other]\naws_access_key_id=AKIATWO\naws_secret_access_key=two\n",
          f);
    fclose(f);
    assert_int_equal(auth_load(dir, &a, &created, err, sizeof err), 0);
    assert_string_equal(auth_root_access_key(a), "AKIAONE");
    assert_int_equal(auth_lookup(a, sl_str_c("AKIATWO"), secret, sizeof secret), 0);
    assert_string_equal(secret, "two");
    auth_free(a);
    f = fopen(path, "w");
    fputs("[sluice]\naws_access_key_id = AKIAONE\n", f);
    fclose(f);
    assert_true(auth_load(dir, &a, &created, err, sizeof err) < 0);
    assert_non_null(strstr(err, "credentials"));
    rm_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_reload),
        cmocka_unit_test(test_environment_overrides),
        cmocka_unit_test(test_extra_profiles_and_bad_file),
    };
    return cmocka_run_group_tests_name("core_auth", tests, NULL, NULL);
}
