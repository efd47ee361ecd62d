/*
 * test_lambda_names.c: function names, partial ARNs and ARNs (src/lambda/names.c) as the
 * Lambda API reference's FunctionName pattern reads them, and Lambda's timestamps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lambda/lam_int.h"

static void test_fnref_forms(void **state)
{
    static const struct {
        const char *in;
        bool dots;
        int rc;
        const char *name;
        const char *qualifier;
        bool elsewhere;
    } cases[] = {
        { "my-function", false, 0, "my-function", "", false },
        { "my_fn:$LATEST", false, 0, "my_fn", "$LATEST", false },
        { "my-function:prod", false, 0, "my-function", "prod", false },
        { "123456789012:function:f", false, 0, "f", "", true },
        { "000000000000:function:f", false, 0, "f", "", false },
        { "arn:aws:lambda:us-east-1:000000000000:function:f", false, 0, "f", "", false },
        { "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST", false, 0, "f", "$LATEST",
          false },
        { "arn:aws:lambda:eu-west-1:000000000000:function:f", false, 0, "f", "", true },
        { "arn:aws-us-gov:lambda:us-gov-west-1:000000000000:function:g", false, 0, "g", "",
          true },
        { "us-east-1:000000000000:function:f", false, 0, "f", "", false },
        { "a.b", true, 0, "a.b", "", false },
        { "a.b", false, LAM__EPATTERN, NULL, NULL, false },
        { "", false, LAM__EPATTERN, NULL, NULL, false },
        { "has space", false, LAM__EPATTERN, NULL, NULL, false },
        { "f:q:extra", false, LAM__EPATTERN, NULL, NULL, false },
        { "f:bad$q", false, LAM__EPATTERN, NULL, NULL, false },
        { "arn:aws:s3:us-east-1:000000000000:function:f", false, LAM__EPATTERN, NULL, NULL,
          false },
        { "f:", false, LAM__EPATTERN, NULL, NULL, false },
        { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false,
          LAM__ELONG, NULL, NULL, false },
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct lam__fnref ref;
        int rc = lam__parse_fnref(cases[i].in, "us-east-1", "000000000000", cases[i].dots, &ref);
        if (rc != cases[i].rc) {
            fail_msg("%s: rc %d, want %d", cases[i].in, rc, cases[i].rc);
        }
        if (rc == 0) {
            assert_string_equal(ref.name, cases[i].name);
            assert_string_equal(ref.qualifier, cases[i].qualifier);
            assert_int_equal(ref.elsewhere, cases[i].elsewhere);
        }
    }
}

static void test_qualifier_latest(void **state)
{
    (void)state;
    assert_true(lam__qualifier_latest(NULL));
    assert_true(lam__qualifier_latest(""));
    assert_true(lam__qualifier_latest("$LATEST"));
    assert_false(lam__qualifier_latest("1"));
    assert_false(lam__qualifier_latest("prod"));
}

static void test_time_format(void **state)
{
    char out[32];
    (void)state;
    lam__fmt_time(1700000000123ull, out);
    assert_string_equal(out, "2023-11-14T22:13:20.123+0000");
    lam__fmt_time(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000+0000");
}

static void test_runtimes(void **state)
{
    (void)state;
    assert_ptr_equal(lam__runtime_find("python3.11"), &lam__runtime_python);
    assert_ptr_equal(lam__runtime_find("python3.12"), &lam__runtime_python);
    assert_ptr_equal(lam__runtime_find("nodejs20.x"), &lam__runtime_node);
    assert_ptr_equal(lam__runtime_find("provided.al2023"), &lam__runtime_provided);
    assert_null(lam__runtime_find("java21"));
    assert_true(lam__runtime_known("java21"));
    assert_false(lam__runtime_known("cobol85"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnref_forms),
        cmocka_unit_test(test_qualifier_latest),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_runtimes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
