/*
 * str.h: byte slices and the small string helpers every floor uses.
 *
 * A slice (E4) is a borrowed (pointer, length) pair; it never owns its bytes and is not
 * NUL-terminated unless a function says so. Helpers here allocate nothing.
 */
#ifndef SL_CORE_STR_H
#define SL_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct sl_str {
    const char *p;
    size_t len;
};

#define SL_STR_LIT(s) ((struct sl_str){ (s), sizeof(s) - 1 })
#define SL_STR_NULL ((struct sl_str){ NULL, 0 })

static inline struct sl_str sl_str_c(const char *s)
{
    return (struct sl_str){ s, s ? strlen(s) : 0 };
}

static inline bool sl_str_eq(struct sl_str a, struct sl_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static inline bool sl_str_eq_c(struct sl_str a, const char *b)
{
    return sl_str_eq(a, sl_str_c(b));
}

static inline bool sl_str_starts(struct sl_str a, const char *prefix)
{
    size_t n = strlen(prefix);
    return a.len >= n && memcmp(a.p, prefix, n) == 0;
}

/* The value of a hex digit (either case), or -1. */
static inline int sl_hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* The length of the UTF-8 sequence at s[0..n) (1 to 4; n > 0), 0 when it is not valid UTF-8
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or -1 when s ends
 * before a sequence that is valid so far does. */
int sl_utf8_seq(const unsigned char *s, size_t n);

/* ASCII case-insensitive equality (header names). */
bool sl_str_case_eq(struct sl_str a, const char *b);

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void sl_hex(const unsigned char *in, size_t n, char *out);

/* Decodes %XX escapes of in into out (capacity >= in.len). '+' is kept as '+'.
 * Returns the decoded length, or -1 when an escape is malformed. */
long sl_uri_decode(struct sl_str in, char *out);

/* AWS URI-encodes in (RFC 3986 unreserved characters kept, everything else %XX upper case);
 * '/' is kept when keep_slash. out needs 3 * in.len + 1 bytes; the result is NUL-terminated.
 * Returns its length. */
size_t sl_uri_encode(struct sl_str in, bool keep_slash, char *out);

/* Standard base64 (RFC 4648, with padding) of n bytes into out, which needs
 * 4 * ((n + 2) / 3) + 1 bytes; NUL-terminated. Returns the length written. */
size_t sl_base64_encode(const void *in, size_t n, char *out);
/* Decodes standard base64 (padding optional, no whitespace) into out (capacity cap, at least
 * 3 * (in.len / 4) + 2). Returns the decoded length, or -1 when in is not base64. */
long sl_base64_decode(struct sl_str in, unsigned char *out, size_t cap);

/* Fills out (37 bytes) with a random RFC 4122 version 4 UUID, lower case. */
void sl_uuid4(char out[37]);

#endif
