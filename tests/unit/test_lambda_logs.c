/*
 * test_lambda_logs.c: an invocation's log and its LogType Tail (src/lambda/logs.c): the tail
 * is base64 of the last 4 KB exactly, however much was written, and the REPORT line has
 * Lambda's fields; and the retry schedule of asynchronous invocations (src/lambda/async.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lambda/lam_int.h"

static char *decode(const char *b64, size_t *n)
{
    size_t len = strlen(b64);
    unsigned char *out = malloc(len + 3);
    long got = sl_base64_decode(sl_str_c(b64), out, len + 3);
    assert_true(got >= 0);
    *n = (size_t)got;
    return (char *)out;
}

static void test_tail_short(void **state)
{
    struct lam__log g;
    char *tail, *plain;
    size_t n;
    (void)state;
    lam__log_init(&g);
    lam__log_printf(&g, "START RequestId: %s Version: $LATEST\n", "abc");
    lam__log_append(&g, "hello\n", 6);
    tail = lam__log_tail(&g);
    plain = decode(tail, &n);
    assert_int_equal(n, strlen("START RequestId: abc Version: $LATEST\nhello\n"));
    assert_memory_equal(plain, "START RequestId: abc Version: $LATEST\nhello\n", n);
    free(tail);
    free(plain);
    lam__log_release(&g);
}

static void test_tail_keeps_last_4k(void **state)
{
    struct lam__log g;
    char chunk[1000], *tail, *plain;
    size_t n;
    (void)state;
    lam__log_init(&g);
    /* 20 KB in pieces of every size, ending with a known 5000-byte run. */
    for (int i = 0; i < 20; i++) {
        memset(chunk, 'a' + i % 26, sizeof chunk);
        lam__log_append(&g, chunk, (size_t)(i * 37 % 1000) + 1);
    }
    for (int i = 0; i < 5; i++) {
        char line[1000];
        memset(line, '0' + i, sizeof line);
        lam__log_append(&g, line, sizeof line);
    }
    tail = lam__log_tail(&g);
    plain = decode(tail, &n);
    assert_int_equal(n, LAM_LOG_TAIL);
    /* The last 4096 bytes: 96 of run 0, then runs 1..4 whole. */
    for (size_t i = 0; i < n; i++) {
        char want = i < 96 ? '0' : (char)('0' + 1 + (i - 96) / 1000);
        if (plain[i] != want) {
            fail_msg("byte %zu is %c, want %c", i, plain[i], want);
        }
    }
    free(tail);
    free(plain);
    /* One append larger than the buffer keeps its own end. */
    {
        char *big = malloc(20000);
        for (int i = 0; i < 20000; i++) {
            big[i] = (char)('A' + i % 26);
        }
        lam__log_append(&g, big, 20000);
        tail = lam__log_tail(&g);
        plain = decode(tail, &n);
        assert_int_equal(n, LAM_LOG_TAIL);
        assert_memory_equal(plain, big + 20000 - LAM_LOG_TAIL, LAM_LOG_TAIL);
        free(big);
        free(tail);
        free(plain);
    }
    lam__log_release(&g);
}

static void test_report_line(void **state)
{
    struct lam__log g;
    char *tail, *plain;
    size_t n;
    (void)state;
    lam__log_init(&g);
    lam__log_report(&g, "id-1", 2.62, 128, 40, 138.914, NULL);
    lam__log_report(&g, "id-2", 3000.0, 256, 41, 0, "timeout");
    lam__log_report(&g, "id-3", 0.1, 128, 1, 0, NULL);
    tail = lam__log_tail(&g);
    plain = decode(tail, &n);
    assert_memory_equal(plain,
                        "REPORT RequestId: id-1\tDuration: 2.62 ms\tBilled Duration: 3 ms\t"
                        "Memory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: 138.91 ms\t\n"
                        "REPORT RequestId: id-2\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\t"
                        "Memory Size: 256 MB\tMax Memory Used: 41 MB\tStatus: timeout\t\n"
                        "REPORT RequestId: id-3\tDuration: 0.10 ms\tBilled Duration: 1 ms\t"
                        "Memory Size: 128 MB\tMax Memory Used: 1 MB\t\n",
                        n);
    free(tail);
    free(plain);
    lam__log_release(&g);
}

static void test_async_retry_schedule(void **state)
{
    (void)state;
    /* Lambda: two retries, one minute after the first failure, two after the second. */
    assert_int_equal(lam__async_retry_delay_ms(1), 60000);
    assert_int_equal(lam__async_retry_delay_ms(2), 120000);
    assert_int_equal(lam__async_retry_delay_ms(3), -1);
    assert_int_equal(lam__async_retry_delay_ms(9), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tail_short),
        cmocka_unit_test(test_tail_keeps_last_4k),
        cmocka_unit_test(test_report_line),
        cmocka_unit_test(test_async_retry_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
