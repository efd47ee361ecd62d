/*
 * test_core_config.c: flags over environment over defaults (src/core/config.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

static void clear_env(void)
{
    unsetenv("SLUICE_PORT");
    unsetenv("SLUICE_DATA_DIR");
    unsetenv("SLUICE_SYNC");
    unsetenv("SLUICE_REGION");
    unsetenv("SLUICE_QUERY_TIMEOUT");
}

static void test_defaults(void **state)
{
    struct config c;
    char err[256];
    (void)state;
    clear_env();
    assert_int_equal(config_parse(&c, 0, NULL, err, sizeof err), 0);
    assert_int_equal(c.port, 4566);
    assert_string_equal(c.bind, "127.0.0.1");
    assert_string_equal(c.data_dir, "./data");
    assert_string_equal(c.region, "us-east-1");
    assert_string_equal(c.account_id, "000000000000");
    assert_int_equal(c.sync, STORE_SYNC_FULL);
    assert_int_equal(c.log_level, LOG_INFO);
    assert_int_equal(c.query_timeout, 60);
}

static void test_env_then_flags(void **state)
{
    struct config c;
    char err[256];
    char *argv[] = { "--port", "7000", "--sync=none", "--region", "eu-west-1" };
    (void)state;
    clear_env();
    setenv("SLUICE_PORT", "5000", 1);
    setenv("SLUICE_DATA_DIR", "/tmp/x", 1);
    assert_int_equal(config_parse(&c, 0, NULL, err, sizeof err), 0);
    assert_int_equal(c.port, 5000);
    assert_string_equal(c.data_dir, "/tmp/x");
    assert_int_equal(config_parse(&c, 5, argv, err, sizeof err), 0);
    assert_int_equal(c.port, 7000);
    assert_int_equal(c.sync, STORE_SYNC_NONE);
    assert_string_equal(c.region, "eu-west-1");
    assert_string_equal(c.data_dir, "/tmp/x");
    clear_env();
}

static void test_errors(void **state)
{
    struct config c;
    char err[256];
    char *bad_port[] = { "--port", "70000" };
    char *bad_flag[] = { "--frobnicate", "1" };
    char *no_value[] = { "--port" };
    char *bad_sync[] = { "--sync", "sometimes" };
    char *bad_timeout[] = { "--query-timeout", "0" };
    char *timeout[] = { "--query-timeout=5" };
    (void)state;
    clear_env();
    assert_int_equal(config_parse(&c, 2, bad_port, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "70000"));
    assert_int_equal(config_parse(&c, 2, bad_flag, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "unknown flag"));
    assert_int_equal(config_parse(&c, 1, no_value, err, sizeof err), -EINVAL);
    assert_int_equal(config_parse(&c, 2, bad_sync, err, sizeof err), -EINVAL);
    assert_int_equal(config_parse(&c, 2, bad_timeout, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "query timeout"));
    assert_int_equal(config_parse(&c, 1, timeout, err, sizeof err), 0);
    assert_int_equal(c.query_timeout, 5);
    setenv("SLUICE_PORT", "notaport", 1);
    assert_int_equal(config_parse(&c, 0, NULL, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "SLUICE_PORT"));
    clear_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_env_then_flags),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("core_config", tests, NULL, NULL);
}
