/*
 * str.c: slice helpers, hex, URI encoding as AWS defines it for SigV4, UUIDs.
 *
 * The URI encoding is the one of the SigV4 documentation ("UriEncode"): A-Z a-z 0-9 - _ . ~
 * stay, every other byte becomes %XX with upper-case hex digits. Base64 is RFC 4648's
 * standard alphabet, as AWS's JSON protocols carry blobs.
 */
#include "core/str.h"

#include <openssl/rand.h>
#include <stdio.h>

bool sl_str_case_eq(struct sl_str a, const char *b)
{
    size_t n = strlen(b);
    if (a.len != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a.p[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') {
            x = (unsigned char)(x - 'A' + 'a');
        }
        if (y >= 'A' && y <= 'Z') {
            y = (unsigned char)(y - 'A' + 'a');
        }
        if (x != y) {
            return false;
        }
    }
    return true;
}

void sl_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

long sl_uri_decode(struct sl_str in, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < in.len; i++) {
        if (in.p[i] == '%') {
            int hi, lo;
            if (i + 2 >= in.len) {
                return -1;
            }
            hi = sl_hex_digit(in.p[i + 1]);
            lo = sl_hex_digit(in.p[i + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        }
        else {
            out[o++] = in.p[i];
        }
    }
    return (long)o;
}

size_t sl_uri_encode(struct sl_str in, bool keep_slash, char *out)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < in.len; i++) {
        unsigned char c = (unsigned char)in.p[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash)) {
            out[o++] = (char)c;
        }
        else {
            out[o++] = '%';
            out[o++] = digits[c >> 4];
            out[o++] = digits[c & 15];
        }
    }
    out[o] = '\0';
    return o;
}

void sl_uuid4(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) {
        /* RAND_bytes fails only when the system has no entropy source at all. */
        memset(b, 0, sizeof b);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

static const char b64_digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t sl_base64_encode(const void *in, size_t n, char *out)
{
    const unsigned char *p = in;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = ((unsigned)p[i] << 16) | ((unsigned)p[i + 1] << 8) | p[i + 2];
        out[o++] = b64_digits[(v >> 18) & 63];
        out[o++] = b64_digits[(v >> 12) & 63];
        out[o++] = b64_digits[(v >> 6) & 63];
        out[o++] = b64_digits[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n) {
            v |= (unsigned)p[i + 1] << 8;
        }
        out[o++] = b64_digits[(v >> 18) & 63];
        out[o++] = b64_digits[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64_digits[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

long sl_base64_decode(struct sl_str in, unsigned char *out, size_t cap)
{
    size_t n = in.len, o = 0;
    unsigned acc = 0;
    int bits = 0;

    if (n >= 1 && in.p[n - 1] == '=') {
        n--;
    }
    if (n >= 1 && in.p[n - 1] == '=') {
        n--;
    }
    if (n % 4 == 1) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(in.p[i]);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap) {
                return -1;
            }
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)o;
}

int sl_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    int len;

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    }
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;     /* no overlong forms */
        hi = c == 0xed ? 0x9f : 0xbf;     /* no surrogates */
    }
    else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;     /* nothing above U+10FFFF */
    }
    else {
        return 0;
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) {
            return -1;
        }
        if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf)) {
            return 0;
        }
    }
    return len;
}
