/*
 * test_core_jdoc.c: the arena JSON reader (src/core/jdoc.c) against jansson, which it must
 * agree with: the same texts accepted and refused, the same values read. Each text is parsed
 * from a heap copy of exactly its length, so AddressSanitizer sees any read past its end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jdoc.h"

static bool same_tree(const struct jd *a, const struct jd *b)
{
    const struct jd *x, *y;
    if (a->type != b->type || a->klen != b->klen ||
        (a->klen && memcmp(a->key, b->key, a->klen) != 0)) {
        return false;
    }
    switch (a->type) {
    case JD_STRING:
        return a->len == b->len && memcmp(a->s, b->s, a->len) == 0 && a->s[a->len] == '\0';
    case JD_NUMBER:
        return strtod(a->s, NULL) == strtod(b->s, NULL);
    case JD_ARRAY:
    case JD_OBJECT:
        if (a->len != b->len) {
            return false;
        }
        for (x = a->child, y = b->child; x && y; x = x->next, y = y->next) {
            if (!same_tree(x, y)) {
                return false;
            }
        }
        return !x && !y;
    default:
        return true;
    }
}

static bool all_unique(const struct jd *v, struct arena *a)
{
    const struct jd *x;
    if (v->type == JD_OBJECT && !jd_names_unique(v, a)) {
        return false;
    }
    if (v->type == JD_OBJECT || v->type == JD_ARRAY) {
        jd_foreach(v, x)
        {
            if (!all_unique(x, a)) {
                return false;
            }
        }
    }
    return true;
}

/* Parses the n bytes of text both ways; fails the test when the two disagree. Returns
 * whether the text was accepted. */
static bool agree(const char *text, size_t n)
{
    struct arena a;
    char *copy = malloc(n ? n : 1);
    json_error_t jerr;
    json_t *j;
    struct jd *v;
    bool ok;

    memcpy(copy, text, n);
    arena_init(&a);
    v = jd_parse(copy, n, 64, &a);
    j = json_loadb(copy, n, JSON_DECODE_ANY, &jerr);
    /* One known difference: jansson skips a NUL byte right after a literal or a number (its
     * reader puts the byte back, then takes the NUL for the end of its look-ahead), where
     * jdoc refuses the text. Refusing more is safe: its readers then ask jansson. */
    if ((v != NULL) != (j != NULL) && !(j && memchr(copy, '\0', n))) {
        fprintf(stderr, "disagree: jdoc %s, jansson %s (%s) on %zu bytes:",
                v ? "accepts" : "refuses", j ? "accepts" : "refuses", j ? "" : jerr.text, n);
        for (size_t i = 0; i < n; i++) {
            unsigned c = (unsigned char)text[i];
            fprintf(stderr, c < 0x20 || c > 0x7e ? "\\x%02x" : "%c", c);
        }
        fprintf(stderr, "\n");
        fail();
    }
    if (v && all_unique(v, &a)) {
        assert_non_null(j);
        assert_true(same_tree(v, jd_of_json(j, &a)));
    }
    ok = v != NULL;
    json_decref(j);
    arena_clear(&a);
    free(copy);
    return ok;
}

static bool agree_c(const char *text)
{
    return agree(text, strlen(text));
}

static void test_cases(void **state)
{
    static const char *const ok[] = {
        "{}", "[]", " {\"a\" : [1, -0, 2.5e-3, true, false, null, \"x\"]}\n\t\r ",
        "\"\"", "0", "-0", "1E+2", "1e-400", "9223372036854775807", "-9223372036854775808",
        "{\"\":{\"\":[]}}", "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", "\"\\u00e9\\u20AC\"",
        "\"\\ud83d\\ude00\"", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"", "\"\xef\xbf\xbf\"",
        "\"\xf4\x8f\xbf\xbf\"", "{\"TableName\":\"t\",\"Item\":{\"pk\":{\"S\":\"a\"}}}",
    };
    static const char *const bad[] = {
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\"}", "{\"a\" 1}", "{1:2}", "{'a':1}",
        "[1 2]", "01", "1.", ".5", "1e", "1e+", "-", "+1", "1e400", "-1e400",
        "9223372036854775808", "-9223372036854775809", "tru", "nul", "truex", "nulll",
        "True", "{} x", "{}{}", "\"abc", "\"\\\"", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"",
        "\"\\u0000\"", "\"\\ud800\"", "\"\\ud800x\"", "\"\\ud800\\u0041\"", "\"\\udc00\"",
        "\"\x01\"", "\"\t\"", "\"\x80\"", "\"\xc0\x80\"", "\"\xc1\xbf\"", "\"\xe0\x80\x80\"",
        "\"\xed\xa0\x80\"", "\"\xf0\x80\x80\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"",
        "\"\xc3\"", "\"\xe2\x82\"", "\xef\xbb\xbf{}", "[\"\xff\"]", "{\"\xc3\x28\":1}",
    };
    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_true(agree_c(ok[i]));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(agree_c(bad[i]));
    }
    assert_false(agree("[\"a\0\"]", 6));        /* a NUL byte in a string */
    assert_false(agree("[1]\0", 4));            /* and after the value */
    assert_false(agree("[true\0]", 7));         /* jansson takes this one */
}

/* Random edits of valid texts: a byte replaced (often by one of JSON's own), inserted or
 * removed. Whatever comes of it, both readers must give the same answer. */
static void test_mutations(void **state)
{
    static const char *const seeds[] = {
        "{\"TableName\":\"bench\",\"Item\":{\"pk\":{\"S\":\"k-1\"},\"sk\":{\"N\":\"17\"},"
        "\"d\":{\"M\":{\"l\":{\"L\":[{\"BOOL\":true},{\"NULL\":true},{\"B\":\"AAE=\"}]}}}},"
        "\"ReturnConsumedCapacity\":\"TOTAL\"}",
        "[\"\\u00e9\\ud83d\\ude00\\n\",\"\xc3\xa9\xe2\x82\xac\",-12.5e+3,0,[],{}]",
    };
    static const char interesting[] = "{}[]\",:\\u0123456789eE+-.tfnrl \x80\xc3\xed\xf0\xff";
    unsigned seed = 20261202;
    char buf[512];
    size_t accepted = 0, total = 0;
    (void)state;
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        for (int round = 0; round < 12000; round++) {
            size_t n = strlen(seeds[s]);
            memcpy(buf, seeds[s], n);
            for (int edits = 1 + rand_r(&seed) % 3; edits > 0 && n > 0; edits--) {
                size_t at = (size_t)rand_r(&seed) % n;
                char c = rand_r(&seed) % 4 ? interesting[rand_r(&seed) % (sizeof interesting - 1)]
                                           : (char)rand_r(&seed);
                switch (rand_r(&seed) % 3) {
                case 0:
                    buf[at] = c;
                    break;
                case 1:
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = c;
                    n++;
                    break;
                default:
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                    break;
                }
            }
            accepted += agree(buf, n);
            total++;
        }
    }
    /* The edits must leave both some valid texts and many invalid ones to compare. */
    assert_true(accepted > total / 50);
    assert_true(accepted < total / 2);
}

static void test_depth(void **state)
{
    struct arena a;
    char text[64];
    (void)state;
    arena_init(&a);
    memset(text, '[', 10);
    memset(text + 10, ']', 10);
    assert_non_null(jd_parse(text, 20, 10, &a));
    assert_null(jd_parse(text, 20, 9, &a));
    assert_non_null(jd_parse("{\"a\":[{}]}", 10, 3, &a));
    assert_null(jd_parse("{\"a\":[{}]}", 10, 2, &a));
    arena_clear(&a);
}

/* {"m0":0,...,"m18":18,"<last>":19} into text; returns its length. */
static size_t twenty(char *text, size_t cap, const char *last)
{
    size_t o = (size_t)snprintf(text, cap, "{");
    for (int i = 0; i < 19; i++) {
        o += (size_t)snprintf(text + o, cap - o, "\"m%d\":%d,", i, i);
    }
    return o + (size_t)snprintf(text + o, cap - o, "\"%s\":19}", last);
}

static void test_names(void **state)
{
    struct arena a;
    const struct jd *v;
    char text[512];
    size_t n;
    (void)state;
    arena_init(&a);
    v = jd_parse("{\"a\":1,\"b\":2,\"a\":3}", 19, 8, &a);
    assert_non_null(v);
    assert_int_equal(v->len, 3);
    assert_false(jd_names_unique(v, &a));
    assert_string_equal(jd_get(v, "a")->s, "1");    /* the first; jansson keeps the last */
    assert_string_equal(jd_get(v, "b")->s, "2");
    assert_null(jd_get(v, "c"));
    assert_null(jd_get(jd_get(v, "a"), "a"));
    /* Past eight members the check sorts. */
    n = twenty(text, sizeof text, "m7");
    assert_non_null(v = jd_parse(text, n, 8, &a));
    assert_int_equal(v->len, 20);
    assert_false(jd_names_unique(v, &a));
    n = twenty(text, sizeof text, "m19");
    assert_non_null(v = jd_parse(text, n, 8, &a));
    assert_true(jd_names_unique(v, &a));
    assert_string_equal(jd_get(v, "m19")->s, "19");
    arena_clear(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests_name("core_jdoc", tests, NULL, NULL);
}
