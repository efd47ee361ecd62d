/*
 * test_core_mem.c: the arena, its cleanups, and bounded buffers (src/core/mem.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static int order[4];
static int n_order;

static void note(void *arg)
{
    order[n_order++] = (int)(intptr_t)arg;
}

static void test_arena(void **state)
{
    struct arena a;
    (void)state;
    arena_init(&a);
    for (int i = 0; i < 1000; i++) {
        char *p = arena_alloc(&a, (size_t)(i % 100) + 1);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 'x', (size_t)(i % 100) + 1);
    }
    {
        char *big = arena_alloc(&a, 100000);
        memset(big, 'y', 100000);
    }
    assert_string_equal(arena_printf(&a, "%s-%d", "t", 42), "t-42");
    assert_string_equal(arena_strndup(&a, "abcdef", 3), "abc");
    n_order = 0;
    arena_on_clear(&a, note, (void *)1);
    arena_on_clear(&a, note, (void *)2);
    arena_clear(&a);
    assert_int_equal(n_order, 2);
    assert_int_equal(order[0], 2); /* reverse order of registration */
    assert_int_equal(order[1], 1);
    /* Usable again after clear. */
    assert_non_null(arena_zalloc(&a, 10));
    arena_clear(&a);
}

static void test_buf_limits(void **state)
{
    struct buf b;
    (void)state;
    buf_init(&b, 10);
    assert_int_equal(buf_puts(&b, "12345"), 0);
    assert_int_equal(buf_puts(&b, "67890"), 0);
    assert_int_equal(buf_puts(&b, "x"), -E2BIG);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.p, "1234567890");
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "%d", 123), 0);
    assert_string_equal(b.p, "123");
    assert_int_equal(buf_printf(&b, "%s", "too long for it"), -E2BIG);
    buf_release(&b);

    buf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(buf_printf(&b, "%04d", i), 0);
    }
    assert_int_equal(b.len, 4000);
    {
        size_t n;
        char *p = buf_detach(&b, &n);
        assert_int_equal(n, 4000);
        assert_memory_equal(p + 3996, "0999", 4);
        free(p);
    }
    assert_null(b.p);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_buf_limits),
    };
    return cmocka_run_group_tests_name("core_mem", tests, NULL, NULL);
}
