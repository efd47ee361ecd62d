/*
 * checksum.c: the additional checksums of S3 (x-amz-checksum-crc32, -crc32c, -crc64nvme,
 * -sha1, -sha256): computing them as bytes stream in, their names and wire form (base64 of
 * the big-endian value), and the arithmetic that makes a multipart upload's checksum: the
 * checksum of the parts' checksums (COMPOSITE) or, for the CRCs, the CRC of the whole object
 * combined from the parts' CRCs and sizes without reading a byte again (FULL_OBJECT).
 *
 * What it is not: where checksums come from or go (object.c, multipart.c).
 *
 * CRC32 is zlib's. CRC32C (Castagnoli, reflected 0x82F63B78) and CRC64NVME (reflected
 * 0x9A6C9329AC4BC9B5, as the NVMe specification and S3 define it) are computed here,
 * slicing by 8 over tables built once. All three start from all ones and end inverted, which
 * is what lets crc_combine() (zlib's method: multiply by x^(8n) modulo the polynomial) join
 * them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "s3/s3_int.h"

#define POLY32C 0x82F63B78u
#define POLY64NVME 0x9A6C9329AC4BC9B5ull

static uint32_t t32c[8][256];
static uint64_t t64[8][256];
static uint64_t x2n32c[64], x2n64[64];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static const struct {
    const char *name;       /* as in XML elements and x-amz-sdk-checksum-algorithm */
    const char *header;
    size_t len;
} algos[] = {
    [S3__CK_CRC32] = { "CRC32", "x-amz-checksum-crc32", 4 },
    [S3__CK_CRC32C] = { "CRC32C", "x-amz-checksum-crc32c", 4 },
    [S3__CK_CRC64NVME] = { "CRC64NVME", "x-amz-checksum-crc64nvme", 8 },
    [S3__CK_SHA1] = { "SHA1", "x-amz-checksum-sha1", 20 },
    [S3__CK_SHA256] = { "SHA256", "x-amz-checksum-sha256", 32 },
};

/* a * b modulo the reflected polynomial poly of width w bits (zlib's multmodp). */
static uint64_t multmodp(uint64_t a, uint64_t b, uint64_t poly, unsigned w)
{
    uint64_t m = 1ull << (w - 1), p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0) {
                break;
            }
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ poly : b >> 1;
    }
    return p;
}

static void build_tables(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint32_t c = i;
        uint64_t d = i;
        for (int k = 0; k < 8; k++) {
            c = c & 1 ? (c >> 1) ^ POLY32C : c >> 1;
            d = d & 1 ? (d >> 1) ^ POLY64NVME : d >> 1;
        }
        t32c[0][i] = c;
        t64[0][i] = d;
    }
    for (unsigned i = 0; i < 256; i++) {
        for (int s = 1; s < 8; s++) {
            t32c[s][i] = (t32c[s - 1][i] >> 8) ^ t32c[0][t32c[s - 1][i] & 0xff];
            t64[s][i] = (t64[s - 1][i] >> 8) ^ t64[0][t64[s - 1][i] & 0xff];
        }
    }
    /* x^(2^k) modulo each polynomial, starting from x^1. */
    x2n32c[0] = 1ull << 30;
    x2n64[0] = 1ull << 62;
    for (int k = 1; k < 64; k++) {
        x2n32c[k] = multmodp(x2n32c[k - 1], x2n32c[k - 1], POLY32C, 32);
        x2n64[k] = multmodp(x2n64[k - 1], x2n64[k - 1], POLY64NVME, 64);
    }
}

static uint32_t crc32c_update(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = t32c[7][lo & 0xff] ^ t32c[6][(lo >> 8) & 0xff] ^ t32c[5][(lo >> 16) & 0xff] ^
              t32c[4][lo >> 24] ^ t32c[3][p[4]] ^ t32c[2][p[5]] ^ t32c[1][p[6]] ^
              t32c[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--) {
        crc = (crc >> 8) ^ t32c[0][(crc ^ *p++) & 0xff];
    }
    return ~crc;
}

static uint64_t crc64_update(uint64_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n >= 8) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--) {
            v = (v << 8) | p[i];
        }
        v ^= crc;
        crc = t64[7][v & 0xff] ^ t64[6][(v >> 8) & 0xff] ^ t64[5][(v >> 16) & 0xff] ^
              t64[4][(v >> 24) & 0xff] ^ t64[3][(v >> 32) & 0xff] ^ t64[2][(v >> 40) & 0xff] ^
              t64[1][(v >> 48) & 0xff] ^ t64[0][v >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) {
        crc = (crc >> 8) ^ t64[0][(crc ^ *p++) & 0xff];
    }
    return ~crc;
}

/* The CRC of A then B from crc(A), crc(B) and len(B). */
static uint64_t crc_combine(uint64_t a, uint64_t b, uint64_t blen, const uint64_t *x2n,
                            uint64_t poly, unsigned w)
{
    uint64_t p = 1ull << (w - 1); /* x^0 */
    unsigned k = 3;               /* bytes: x^(8 * blen) */
    while (blen) {
        if (blen & 1) {
            p = multmodp(x2n[k & 63], p, poly, w);
        }
        blen >>= 1;
        k++;
    }
    return multmodp(p, a, poly, w) ^ b;
}

/* ---- names ---- */

const char *s3__ck_name(unsigned algo)
{
    return algo >= S3__CK_CRC32 && algo <= S3__CK_SHA256 ? algos[algo].name : "";
}

const char *s3__ck_header(unsigned algo)
{
    return algo >= S3__CK_CRC32 && algo <= S3__CK_SHA256 ? algos[algo].header : "";
}

size_t s3__ck_len(unsigned algo)
{
    return algo >= S3__CK_CRC32 && algo <= S3__CK_SHA256 ? algos[algo].len : 0;
}

unsigned s3__ck_algo_parse(const char *name)
{
    for (unsigned a = S3__CK_CRC32; name && a <= S3__CK_SHA256; a++) {
        if (strcasecmp(name, algos[a].name) == 0) {
            return a;
        }
    }
    return S3__CK_NONE;
}

unsigned s3__ck_algo_of_header(struct sl_str name)
{
    for (unsigned a = S3__CK_CRC32; a <= S3__CK_SHA256; a++) {
        if (sl_str_case_eq(name, algos[a].header)) {
            return a;
        }
    }
    return S3__CK_NONE;
}

char *s3__ck_b64(struct arena *a, const struct s3__checksum *ck, uint32_t parts)
{
    char *out = arena_alloc(a, 4 * ((sizeof ck->value + 2) / 3) + 16);
    size_t n = sl_base64_encode(ck->value, ck->len, out);
    if (ck->type == S3__CK_COMPOSITE && parts) {
        snprintf(out + n, 12, "-%u", (unsigned)parts);
    }
    return out;
}

bool s3__ck_is_crc(unsigned algo)
{
    return algo == S3__CK_CRC32 || algo == S3__CK_CRC32C || algo == S3__CK_CRC64NVME;
}

/* ---- streaming ---- */

int s3__ck_init(struct s3__ck_ctx *c, unsigned algo)
{
    pthread_once(&tables_once, build_tables);
    memset(c, 0, sizeof *c);
    c->algo = (uint8_t)algo;
    if (algo == S3__CK_SHA1 || algo == S3__CK_SHA256) {
        c->md = EVP_MD_CTX_new();
        if (!c->md || EVP_DigestInit_ex(c->md, algo == S3__CK_SHA1 ? EVP_sha1() : EVP_sha256(),
                                        NULL) != 1) {
            EVP_MD_CTX_free(c->md);
            c->md = NULL;
            return -ENOMEM;
        }
    }
    return 0;
}

void s3__ck_update(struct s3__ck_ctx *c, const void *p, size_t n)
{
    switch (c->algo) {
    case S3__CK_CRC32:
        while (n) {
            uInt take = n > (1u << 30) ? (1u << 30) : (uInt)n;
            c->crc = crc32(c->crc, p, take);
            p = (const char *)p + take;
            n -= take;
        }
        break;
    case S3__CK_CRC32C:
        c->crc = crc32c_update((uint32_t)c->crc, p, n);
        break;
    case S3__CK_CRC64NVME:
        c->crc = crc64_update(c->crc, p, n);
        break;
    case S3__CK_SHA1:
    case S3__CK_SHA256:
        EVP_DigestUpdate(c->md, p, n);
        break;
    default:
        break;
    }
}

static void put_be(unsigned char *out, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    }
}

static uint64_t get_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

void s3__ck_final(struct s3__ck_ctx *c, struct s3__checksum *out)
{
    unsigned int len = 0;

    memset(out, 0, sizeof *out);
    out->algo = c->algo;
    out->type = S3__CK_FULL_OBJECT;
    out->len = (uint8_t)s3__ck_len(c->algo);
    if (c->md) {
        EVP_DigestFinal_ex(c->md, out->value, &len);
    }
    else if (c->algo) {
        put_be(out->value, c->crc, out->len);
    }
}

void s3__ck_release(struct s3__ck_ctx *c)
{
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
}

int s3__ck_of(unsigned algo, const void *p, size_t n, struct s3__checksum *out)
{
    struct s3__ck_ctx c;
    int rc = s3__ck_init(&c, algo);
    if (rc == 0) {
        s3__ck_update(&c, p, n);
        s3__ck_final(&c, out);
        s3__ck_release(&c);
    }
    return rc;
}

int s3__ck_combine(struct s3__checksum *acc, const struct s3__checksum *part, uint64_t part_len)
{
    uint64_t a = get_be(acc->value, acc->len), b = get_be(part->value, part->len), v;

    pthread_once(&tables_once, build_tables);
    switch (acc->algo) {
    case S3__CK_CRC32:
        v = (uint64_t)crc32_combine((uLong)a, (uLong)b, (z_off_t)part_len);
        break;
    case S3__CK_CRC32C:
        v = crc_combine(a, b, part_len, x2n32c, POLY32C, 32);
        break;
    case S3__CK_CRC64NVME:
        v = crc_combine(a, b, part_len, x2n64, POLY64NVME, 64);
        break;
    default:
        return -EINVAL;
    }
    put_be(acc->value, v, acc->len);
    return 0;
}
