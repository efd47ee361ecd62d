/*
 * attr.c: DynamoDB attribute values: numbers, base64, the binary item encoding (encode with
 * DynamoDB's validation, decode to JSON text or to jansson) and key encoding. The contracts
 * are in attr.h; the byte layouts in docs/formats.md, "DynamoDB items" and "DynamoDB item
 * keys".
 *
 * What it is not: it knows no table. Which attributes form the key, and the key errors of
 * PutItem and GetItem, live in key.c.
 *
 * Validation follows DynamoDB's two stages, as its front end runs them: the request is first
 * deserialised (a member of the wrong JSON type, or a B that is not base64, is a
 * SerializationException, whatever else is wrong), then the values are checked
 * (ValidationException). So ddb_item_encode() walks the item twice: a type pass that touches
 * nothing, then the encoding pass. Both read a jdoc tree (core/jdoc.h): one the request
 * reader built from the body, or one converted from a jansson value. The messages are
 * DynamoDB's words, including its typos ("dectected", "An string set  may not be empty" with
 * two spaces).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/attr.h"

/* ---- numbers ---- */

int ddb_num_parse(const char *s, size_t len, struct ddb_num *out)
{
    size_t i = 0;
    int sign = 1;
    long idx = 0;            /* index of the current mantissa digit */
    long int_count = -1;     /* mantissa digits before the point (-1: no point yet) */
    long first_sig = -1;     /* index of the first non-zero digit */
    long pending = 0;        /* zeros seen after the first significant digit, not yet kept */
    long total = 0;          /* significant digits, trailing zeros excluded */
    long e = 0;
    bool any = false;

    memset(out, 0, sizeof *out);
    if (len == 0) {
        return -DDB_NUM_EMPTY;
    }
    if (s[0] == '-' || s[0] == '+') {
        sign = s[0] == '-' ? -1 : 1;
        i++;
    }
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (int_count >= 0) {
                return -DDB_NUM_SYNTAX;
            }
            int_count = idx;
            continue;
        }
        if (c < '0' || c > '9') {
            break;
        }
        any = true;
        if (c == '0') {
            if (first_sig >= 0) {
                pending++;
            }
        }
        else {
            if (first_sig < 0) {
                first_sig = idx;
            }
            /* Zeros between significant digits are significant. */
            for (; pending > 0; pending--) {
                if (total < DDB_NUM_DIGITS) {
                    out->digits[total] = '0';
                }
                total++;
            }
            if (total < DDB_NUM_DIGITS) {
                out->digits[total] = c;
            }
            total++;
        }
        idx++;
    }
    if (!any) {
        return -DDB_NUM_SYNTAX;
    }
    if (int_count < 0) {
        int_count = idx;
    }
    if (i < len) {
        bool eneg = false, edigits = false;
        if (s[i] != 'e' && s[i] != 'E') {
            return -DDB_NUM_SYNTAX;
        }
        i++;
        if (i < len && (s[i] == '-' || s[i] == '+')) {
            eneg = s[i] == '-';
            i++;
        }
        for (; i < len; i++) {
            if (s[i] < '0' || s[i] > '9') {
                return -DDB_NUM_SYNTAX;
            }
            edigits = true;
            /* Clamp: anything this large is out of range either way. */
            if (e < 100000000L) {
                e = e * 10 + (s[i] - '0');
            }
        }
        if (!edigits) {
            return -DDB_NUM_SYNTAX;
        }
        if (eneg) {
            e = -e;
        }
    }
    if (first_sig < 0) {
        return 0;   /* zero, whatever its sign and exponent */
    }
    {
        long exp = int_count - first_sig + e;
        if (exp > 126) {
            return -DDB_NUM_OVERFLOW;
        }
        if (exp < -129) {
            return -DDB_NUM_UNDERFLOW;
        }
        if (total > DDB_NUM_DIGITS) {
            return -DDB_NUM_PRECISION;
        }
        out->sign = sign;
        out->exp = (int)exp;
        out->ndigits = (unsigned char)total;
    }
    return 0;
}

const char *ddb_num_strerror(int rc)
{
    switch (-rc) {
    case DDB_NUM_EMPTY:
    case DDB_NUM_SYNTAX:
        return "The parameter cannot be converted to a numeric value";
    case DDB_NUM_OVERFLOW:
        return "Number overflow. Attempting to store a number with magnitude larger than "
               "supported range";
    case DDB_NUM_UNDERFLOW:
        return "Number underflow. Attempting to store a number with magnitude smaller than "
               "supported range";
    case DDB_NUM_PRECISION:
        return "Attempting to store more than 38 significant digits in a Number";
    default:
        return "The parameter cannot be converted to a numeric value";
    }
}

size_t ddb_num_format(const struct ddb_num *n, char *out)
{
    char *p = out;
    int e = n->exp, nd = n->ndigits;

    if (n->sign == 0) {
        out[0] = '0';
        out[1] = '\0';
        return 1;
    }
    if (n->sign < 0) {
        *p++ = '-';
    }
    if (e <= 0) {
        *p++ = '0';
        *p++ = '.';
        memset(p, '0', (size_t)-e);
        p += -e;
        memcpy(p, n->digits, (size_t)nd);
        p += nd;
    }
    else if (e < nd) {
        memcpy(p, n->digits, (size_t)e);
        p += e;
        *p++ = '.';
        memcpy(p, n->digits + e, (size_t)(nd - e));
        p += nd - e;
    }
    else {
        memcpy(p, n->digits, (size_t)nd);
        p += nd;
        memset(p, '0', (size_t)(e - nd));
        p += e - nd;
    }
    *p = '\0';
    return (size_t)(p - out);
}

int ddb_num_cmp(const struct ddb_num *a, const struct ddb_num *b)
{
    int c;
    size_t m;

    if (a->sign != b->sign) {
        return a->sign < b->sign ? -1 : 1;
    }
    if (a->sign == 0) {
        return 0;
    }
    if (a->exp != b->exp) {
        c = a->exp < b->exp ? -1 : 1;
    }
    else {
        m = a->ndigits < b->ndigits ? a->ndigits : b->ndigits;
        c = memcmp(a->digits, b->digits, m);
        if (c == 0 && a->ndigits != b->ndigits) {
            c = a->ndigits < b->ndigits ? -1 : 1;
        }
        c = c < 0 ? -1 : c > 0;
    }
    return a->sign < 0 ? -c : c;
}

/*
 * docs/formats.md, "DynamoDB item keys": one class byte (0x01 negative, 0x02 zero, 0x03
 * positive), then for non-zero numbers one exponent byte (exp + 129, inverted for negatives),
 * then the digits as nibbles, two a byte: d + 1 for positives with a 0 terminator, 10 - d for
 * negatives with a 0xB terminator, so that a longer magnitude sorts after (positive) or before
 * (negative) its prefix.
 */
size_t ddb_num_key(const struct ddb_num *n, unsigned char *out)
{
    unsigned char nib[DDB_NUM_DIGITS + 2];
    size_t k = 0, len;
    int i;

    if (n->sign == 0) {
        out[0] = 0x02;
        return 1;
    }
    out[0] = n->sign > 0 ? 0x03 : 0x01;
    out[1] = (unsigned char)(n->sign > 0 ? n->exp + 129 : 255 - (n->exp + 129));
    for (i = 0; i < n->ndigits; i++) {
        int d = n->digits[i] - '0';
        nib[k++] = (unsigned char)(n->sign > 0 ? d + 1 : 10 - d);
    }
    nib[k++] = n->sign > 0 ? 0x0 : 0xB;
    if (k & 1) {
        nib[k++] = 0;
    }
    len = 2;
    for (size_t j = 0; j < k; j += 2) {
        out[len++] = (unsigned char)(nib[j] << 4 | nib[j + 1]);
    }
    return len;
}

/*
 * Exact addition. Each magnitude is laid out as decimal digits by weight: digit k of the
 * array has weight 10^(low + k), low being the weight of the lowest digit either operand has.
 * Exponents run from -129 to 126 and 38 digits go below the exponent, so 300 places always
 * hold both operands and a carry.
 */
int ddb_num_add(const struct ddb_num *a, const struct ddb_num *b, bool negate_b,
                struct ddb_num *out)
{
    unsigned char x[300], y[300], r[300];
    int sb = negate_b ? -b->sign : b->sign;
    int low, high, w, hi, lo;
    int sign;

    memset(out, 0, sizeof *out);
    if (a->sign == 0 || sb == 0) {
        *out = a->sign == 0 ? *b : *a;
        if (a->sign == 0) {
            out->sign = sb;
        }
        return 0;
    }
    low = a->exp - a->ndigits < b->exp - b->ndigits ? a->exp - a->ndigits : b->exp - b->ndigits;
    high = a->exp > b->exp ? a->exp : b->exp;
    w = high - low + 1;
    memset(x, 0, (size_t)w);
    memset(y, 0, (size_t)w);
    for (int i = 0; i < a->ndigits; i++) {
        x[a->exp - 1 - i - low] = (unsigned char)(a->digits[i] - '0');
    }
    for (int i = 0; i < b->ndigits; i++) {
        y[b->exp - 1 - i - low] = (unsigned char)(b->digits[i] - '0');
    }
    if (a->sign == sb) {
        int carry = 0;
        for (int k = 0; k < w; k++) {
            int d = x[k] + y[k] + carry;
            r[k] = (unsigned char)(d % 10);
            carry = d / 10;
        }
        sign = a->sign;
    }
    else {
        /* Subtract the smaller magnitude from the larger. */
        const unsigned char *big = x, *small = y;
        int borrow = 0, c = 0;
        for (int k = w - 1; k >= 0 && c == 0; k--) {
            c = x[k] < y[k] ? -1 : x[k] > y[k];
        }
        if (c == 0) {
            return 0;   /* equal magnitudes: zero */
        }
        sign = a->sign;
        if (c < 0) {
            big = y;
            small = x;
            sign = sb;
        }
        for (int k = 0; k < w; k++) {
            int d = big[k] - small[k] - borrow;
            borrow = d < 0;
            r[k] = (unsigned char)(d < 0 ? d + 10 : d);
        }
    }
    for (hi = w - 1; hi >= 0 && r[hi] == 0; hi--) {
    }
    if (hi < 0) {
        return 0;
    }
    for (lo = 0; r[lo] == 0; lo++) {
    }
    if (low + hi + 1 > 126 || hi - lo + 1 > DDB_NUM_DIGITS) {
        return -DDB_NUM_OVERFLOW;
    }
    if (low + hi + 1 < -129) {
        return -DDB_NUM_UNDERFLOW;
    }
    out->sign = sign;
    out->exp = low + hi + 1;
    out->ndigits = (unsigned char)(hi - lo + 1);
    for (int k = hi, i = 0; k >= lo; k--, i++) {
        out->digits[i] = (char)('0' + r[k]);
    }
    return 0;
}

/* "Item sizes and formats": 1 byte plus one per two significant digits. The digits are
 * counted in base-100 pairs aligned on the decimal point, as DynamoDB stores them: an odd
 * exponent puts the first digit in the second half of its pair. A negative number costs one
 * byte more: DynamoDB's 400 KB gate, which resolves to the byte, measures -42 at 3 bytes and
 * 42 at 2. */
size_t ddb_num_size(const struct ddb_num *n)
{
    size_t nd;
    if (n->sign == 0) {
        return 1;
    }
    nd = n->ndigits + (size_t)(n->exp % 2 != 0);
    return 1 + (nd + 1) / 2 + (n->sign < 0);
}

/* ---- base64 ---- */

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(unsigned char c)
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

size_t ddb_b64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void ddb_b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        *out++ = b64_chars[v >> 18];
        *out++ = b64_chars[(v >> 12) & 63];
        *out++ = b64_chars[(v >> 6) & 63];
        *out++ = b64_chars[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        *out++ = b64_chars[v >> 18];
        *out++ = b64_chars[(v >> 12) & 63];
        *out++ = '=';
        *out++ = '=';
    }
    else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        *out++ = b64_chars[v >> 18];
        *out++ = b64_chars[(v >> 12) & 63];
        *out++ = b64_chars[(v >> 6) & 63];
        *out++ = '=';
    }
}

/*
 * DynamoDB's Blob deserialiser, reproduced from its answers: the length must be a multiple of
 * 4; then the first character outside the alphabet, or a '=' followed by anything but '=', is
 * named; then the value must be the canonical encoding of what it decodes to (at most two
 * '=', and no stray bits in the last character).
 */
int ddb_b64_check(const char *s, size_t n, char *why, size_t whylen)
{
    size_t pad = 0;
    int last;

    if (n % 4 != 0) {
        snprintf(why, whylen,
                 "Base64 encoded length is expected a multiple of 4 bytes but found: %zu", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '=' && b64_val(c) < 0) {
            snprintf(why, whylen, "Invalid Base64 character: '%c'", c);
            return -1;
        }
        if (c == '=' && i + 1 < n && s[i + 1] != '=') {
            snprintf(why, whylen, "Invalid Base64 character: '='");
            return -1;
        }
    }
    while (pad < n && s[n - 1 - pad] == '=') {
        pad++;
    }
    if (n == 0) {
        return 0;
    }
    last = pad < n ? b64_val((unsigned char)s[n - 1 - pad]) : 0;
    if (pad > 2 || (pad == 1 && (last & 0x3)) || (pad == 2 && (last & 0xF))) {
        snprintf(why, whylen, "Invalid last non-pad Base64 character dectected");
        return -1;
    }
    return 0;
}

size_t ddb_b64_decode(const char *s, size_t n, unsigned char *out)
{
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        acc = acc << 6 | (unsigned)b64_val((unsigned char)s[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return o;
}

/* ---- keys ---- */

size_t ddb_key_bytes(const unsigned char *p, size_t n, unsigned char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        out[o++] = p[i];
        if (p[i] == 0) {
            out[o++] = 0xFF;
        }
    }
    out[o++] = 0x00;
    out[o++] = 0x01;
    return o;
}

/* ---- type names ---- */

const char *ddb_type_name(int type)
{
    static const char *const names[] = { "?", "S", "N", "B", "BOOL", "NULL",
                                         "L", "M", "SS", "NS", "BS" };
    if (type < DDB_S || type > DDB_BS) {
        return "?";
    }
    return names[type];
}

static int type_of_member(const char *k, size_t n)
{
    switch (n) {
    case 1:
        return k[0] == 'S' ? DDB_S : k[0] == 'N' ? DDB_N : k[0] == 'B' ? DDB_B
               : k[0] == 'L' ? DDB_L : k[0] == 'M' ? DDB_M : 0;
    case 2:
        if (k[1] != 'S') {
            return 0;
        }
        return k[0] == 'S' ? DDB_SS : k[0] == 'N' ? DDB_NS : k[0] == 'B' ? DDB_BS : 0;
    case 4:
        if (memcmp(k, "BOOL", 4) == 0) {
            return DDB_BOOL;
        }
        return memcmp(k, "NULL", 4) == 0 ? DDB_NULL : 0;
    default:
        return 0;
    }
}

/* ---- encoding: the type pass (SerializationException) ---- */

static int ser_fail(struct ddb_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int ser_fail(struct ddb_err *err, const char *fmt, ...)
{
    va_list ap;
    err->kind = DDB_ERR_SERIALIZATION;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static const char num_class[] = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber";

/* A JSON value where the API has a string (S, N, set members). */
static int ser_string(const struct jd *v, struct ddb_err *err)
{
    switch (v->type) {
    case JD_STRING:
    case JD_NULL:
        return 0;
    case JD_TRUE:
    case JD_FALSE:
        return ser_fail(err, "class java.lang.Boolean can not be converted to an String");
    case JD_NUMBER:
        return ser_fail(err, "%s can not be converted to an String", num_class);
    case JD_ARRAY:
        return ser_fail(err, "Start of list found where not expected");
    default:
        return ser_fail(err, "Start of structure or map found where not expected.");
    }
}

static int ser_blob(const struct jd *v, struct ddb_err *err)
{
    char why[128];
    switch (v->type) {
    case JD_STRING:
        if (ddb_b64_check(v->s, v->len, why, sizeof why) < 0) {
            return ser_fail(err, "'%.200s' can not be converted to a Blob: %s", v->s, why);
        }
        return 0;
    case JD_NULL:
        return 0;
    case JD_TRUE:
    case JD_FALSE:
        return ser_fail(err, "class java.lang.Boolean can not be converted to a Blob");
    case JD_NUMBER:
        return ser_fail(err, "%s can not be converted to a Blob", num_class);
    case JD_ARRAY:
        return ser_fail(err, "Start of list found where not expected");
    default:
        return ser_fail(err, "Start of structure or map found where not expected.");
    }
}

/* Booleans: DynamoDB's deserialiser also takes the strings true/false, 1/0 and yes/no, in
 * any case. *out receives the value. */
static int ser_bool(const struct jd *v, int *out, struct ddb_err *err)
{
    char up[64];
    size_t i;
    switch (v->type) {
    case JD_TRUE:
        *out = 1;
        return 0;
    case JD_FALSE:
    case JD_NULL:
        *out = 0;
        return 0;
    case JD_NUMBER:
        return ser_fail(err, "%s can not be converted to an Boolean", num_class);
    case JD_STRING:
        for (i = 0; i < v->len && i < sizeof up - 1; i++) {
            char c = v->s[i];
            up[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
        }
        up[i] = '\0';
        if (v->len < sizeof up && (strcmp(up, "TRUE") == 0 || strcmp(up, "1") == 0 ||
                                   strcmp(up, "YES") == 0)) {
            *out = 1;
            return 0;
        }
        if (v->len < sizeof up && (strcmp(up, "FALSE") == 0 || strcmp(up, "0") == 0 ||
                                   strcmp(up, "NO") == 0)) {
            *out = 0;
            return 0;
        }
        return ser_fail(err, "'%s' can not be converted to an Boolean", up);
    case JD_ARRAY:
        return ser_fail(err, "Start of list found where not expected");
    default:
        return ser_fail(err, "Start of structure or map found where not expected.");
    }
}

static int ser_list_shape(const struct jd *v, struct ddb_err *err)
{
    if (v->type == JD_ARRAY || v->type == JD_NULL) {
        return 0;
    }
    if (v->type == JD_OBJECT) {
        return ser_fail(err, "Start of structure or map found where not expected.");
    }
    return ser_fail(err, "Expected list or null");
}

static int ser_map_shape(const struct jd *v, struct ddb_err *err)
{
    if (v->type == JD_OBJECT || v->type == JD_NULL) {
        return 0;
    }
    if (v->type == JD_ARRAY) {
        return ser_fail(err, "Start of list found where not expected");
    }
    return ser_fail(err, "Expected map or null");
}

static int ser_value(const struct jd *av, struct ddb_err *err);

static int ser_map(const struct jd *m, struct ddb_err *err)
{
    const struct jd *v;
    if (ser_map_shape(m, err) < 0) {
        return -1;
    }
    jd_foreach(m, v)
    {
        if (ser_value(v, err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* One AttributeValue structure: each known member must have its declared JSON type. */
static int ser_value(const struct jd *av, struct ddb_err *err)
{
    const struct jd *v, *e;
    int dummy;

    if (av->type == JD_NULL) {
        return 0;
    }
    if (av->type == JD_ARRAY) {
        return ser_fail(err, "Start of list found where not expected");
    }
    if (av->type != JD_OBJECT) {
        return ser_fail(err, "Expected null");
    }
    jd_foreach(av, v)
    {
        int rc = 0, t = type_of_member(v->key, v->klen);
        switch (t) {
        case DDB_S:
        case DDB_N:
            rc = ser_string(v, err);
            break;
        case DDB_B:
            rc = ser_blob(v, err);
            break;
        case DDB_BOOL:
        case DDB_NULL:
            rc = ser_bool(v, &dummy, err);
            break;
        case DDB_SS:
        case DDB_NS:
        case DDB_BS:
            rc = ser_list_shape(v, err);
            jd_foreach(v, e)
            {
                if (rc == 0) {
                    rc = t == DDB_BS ? ser_blob(e, err) : ser_string(e, err);
                }
            }
            break;
        case DDB_L:
            rc = ser_list_shape(v, err);
            jd_foreach(v, e)
            {
                if (rc == 0) {
                    rc = ser_value(e, err);
                }
            }
            break;
        case DDB_M:
            rc = ser_map(v, err);
            break;
        default:
            break;      /* unknown members are ignored, as DynamoDB ignores them */
        }
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- encoding: the value pass (ValidationException) ---- */

struct enc {
    struct arena *a;
    struct buf *out;
    struct ddb_err *err;
    bool full;          /* out reached its maximum */
};

static int val_fail(struct enc *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int val_fail(struct enc *e, const char *fmt, ...)
{
    va_list ap;
    e->err->kind = DDB_ERR_VALIDATION;
    va_start(ap, fmt);
    vsnprintf(e->err->msg, sizeof e->err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static const char invalid[] = "One or more parameter values were invalid: ";

/* A name sent twice in one object: only a tree from jd_parse() holds one (jansson keeps the
 * last), and its reader then asks jansson, so the words are never DynamoDB's to match. */
static int twice_fail(struct enc *e)
{
    e->err->kind = DDB_ERR_VALIDATION;
    snprintf(e->err->msg, sizeof e->err->msg, "A member name is given twice");
    return -1;
}

static int put(struct enc *e, const void *p, size_t n)
{
    if (buf_append(e->out, p, n) < 0) {
        e->full = true;
        return -1;
    }
    return 0;
}

static int put_u8(struct enc *e, unsigned v)
{
    unsigned char c = (unsigned char)v;
    return put(e, &c, 1);
}

static int put_varint(struct enc *e, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    do {
        b[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) {
            b[n] |= 0x80;
        }
        n++;
    } while (v);
    return put(e, b, n);
}

/* Reserves a u32 byte length, filled in by end_len(). Returns its offset, or -1. */
static long begin_len(struct enc *e)
{
    static const unsigned char zero[4];
    long at = (long)e->out->len;
    return put(e, zero, 4) < 0 ? -1 : at;
}

static void end_len(struct enc *e, long at)
{
    size_t n = e->out->len - (size_t)at - 4;
    unsigned char *p = (unsigned char *)e->out->p + at;
    p[0] = (unsigned char)n;
    p[1] = (unsigned char)(n >> 8);
    p[2] = (unsigned char)(n >> 16);
    p[3] = (unsigned char)(n >> 24);
}

/* Members of a map or item by name, for sorting. */
static int ent_cmp(const void *a, const void *b)
{
    const struct jd *x = *(const struct jd *const *)a, *y = *(const struct jd *const *)b;
    size_t m = x->klen < y->klen ? x->klen : y->klen;
    int c = m ? memcmp(x->key, y->key, m) : 0;
    if (c) {
        return c;
    }
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* A set member: bytes, or a number. */
struct mem {
    const char *p;      /* S: the string; N: canonical text (arena); B: the base64 text */
    size_t len;
    unsigned char *raw; /* B: decoded bytes (arena) */
    size_t raw_len;
    struct ddb_num num;
};

static int mem_bytes_cmp(const void *a, const void *b)
{
    const struct mem *x = a, *y = b;
    const void *xp = x->raw ? (const void *)x->raw : x->p;
    const void *yp = y->raw ? (const void *)y->raw : y->p;
    size_t xl = x->raw ? x->raw_len : x->len, yl = y->raw ? y->raw_len : y->len;
    size_t m = xl < yl ? xl : yl;
    int c = m ? memcmp(xp, yp, m) : 0;
    if (c) {
        return c;
    }
    return xl < yl ? -1 : xl > yl;
}

static int mem_num_cmp(const void *a, const void *b)
{
    return ddb_num_cmp(&((const struct mem *)a)->num, &((const struct mem *)b)->num);
}

/* "[a, b]" of a set as sent, for the duplicate messages (cut short when long). */
static void collection_text(const struct jd *arr, char *out, size_t cap)
{
    size_t o = 1;
    const struct jd *x;
    out[0] = '[';
    jd_foreach(arr, x)
    {
        int k = snprintf(out + o, cap - o, "%s%s", x != arr->child ? ", " : "",
                         x->s ? x->s : "");
        if (k < 0 || (size_t)k >= cap - o) {
            o = cap - 1;
            break;
        }
        o += (size_t)k;
    }
    if (o < cap - 1) {
        out[o++] = ']';
    }
    out[o] = '\0';
}

static int enc_number(struct enc *e, const char *s, size_t n, struct ddb_num *num)
{
    int rc = ddb_num_parse(s, n, num);
    if (rc == -DDB_NUM_SYNTAX) {
        return val_fail(e, "%s: %.300s", ddb_num_strerror(rc), s);
    }
    if (rc < 0) {
        return val_fail(e, "%s", ddb_num_strerror(rc));
    }
    return 0;
}

static int enc_value(struct enc *e, const struct jd *av, size_t depth, size_t *size);

static int enc_bytes(struct enc *e, int tag, const char *p, size_t n)
{
    if (put_u8(e, (unsigned)tag) < 0 || put_varint(e, n) < 0 || put(e, p, n) < 0) {
        return -1;
    }
    return 0;
}

/* A B value, decoded straight into the buffer. */
static int enc_blob(struct enc *e, const struct jd *v, size_t *size)
{
    size_t raw = v->len / 4 * 3;
    unsigned char tmp[3 * 16];
    unsigned char *dst;
    size_t got;

    /* The varint of the length comes first, so decode small values on the stack and large
     * ones into the arena; both are then one copy. */
    dst = raw <= sizeof tmp ? tmp : arena_alloc(e->a, raw);
    got = ddb_b64_decode(v->s, v->len, dst);
    *size += got;
    return enc_bytes(e, DDB_B, (const char *)dst, got);
}

static int enc_set(struct enc *e, int type, const struct jd *arr, size_t *size)
{
    size_t n = arr->len, i = 0;
    struct mem *m;
    const struct jd *x;
    char text[DDB_NUM_TEXT_MAX];
    char coll[900];
    long at;

    if (n == 0) {
        return val_fail(e, "%s%s", invalid,
                        type == DDB_SS   ? "An string set  may not be empty"
                        : type == DDB_NS ? "An number set  may not be empty"
                                         : "Binary sets should not be empty");
    }
    m = arena_alloc(e->a, n * sizeof *m);
    jd_foreach(arr, x)
    {
        memset(&m[i], 0, sizeof m[i]);
        if (x->type == JD_NULL) {
            if (type == DDB_NS) {
                return val_fail(e, "The parameter cannot be converted to a numeric value");
            }
            return val_fail(e, "%s%s", invalid,
                            type == DDB_SS ? "An string set may not have a null string as a "
                                             "member"
                                           : "Binary sets may not contain null or empty values");
        }
        m[i].p = x->s;
        m[i].len = x->len;
        if (type == DDB_NS) {
            size_t tl;
            if (enc_number(e, m[i].p, m[i].len, &m[i].num) < 0) {
                return -1;
            }
            tl = ddb_num_format(&m[i].num, text);
            m[i].p = arena_strndup(e->a, text, tl);
            m[i].len = tl;
            *size += ddb_num_size(&m[i].num);
        }
        else if (type == DDB_BS) {
            m[i].raw = arena_alloc(e->a, m[i].len / 4 * 3 + 1);
            m[i].raw_len = ddb_b64_decode(m[i].p, m[i].len, m[i].raw);
            *size += m[i].raw_len;
        }
        else {
            *size += m[i].len;
        }
        i++;
    }
    qsort(m, n, sizeof *m, type == DDB_NS ? mem_num_cmp : mem_bytes_cmp);
    for (i = 1; i < n; i++) {
        bool dup = type == DDB_NS ? mem_num_cmp(&m[i - 1], &m[i]) == 0
                                  : mem_bytes_cmp(&m[i - 1], &m[i]) == 0;
        if (!dup) {
            continue;
        }
        if (type == DDB_NS) {
            return val_fail(e, "Input collection contains duplicates");
        }
        collection_text(arr, coll, sizeof coll);
        return val_fail(e, "%sInput collection %s%s contains duplicates.", invalid, coll,
                        type == DDB_BS ? "of type BS" : "");
    }
    if (put_u8(e, (unsigned)type) < 0 || (at = begin_len(e)) < 0 || put_varint(e, n) < 0) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        const void *p = type == DDB_BS ? (const void *)m[i].raw : m[i].p;
        size_t l = type == DDB_BS ? m[i].raw_len : m[i].len;
        if (put_varint(e, l) < 0 || put(e, p, l) < 0) {
            return -1;
        }
    }
    end_len(e, at);
    return 0;
}

static int nest_fail(struct enc *e)
{
    return val_fail(e, "Nesting Levels have exceeded supported limits: Attributes in the item "
                       "have nested levels beyond supported limit");
}

/* The members of a map or of the item: sorted, each name then its value. */
static int enc_members(struct enc *e, const struct jd *obj, size_t depth, size_t *size,
                       size_t per_member)
{
    size_t n = obj->len, i = 0;
    const struct jd **m = arena_alloc(e->a, (n ? n : 1) * sizeof *m), *x;

    jd_foreach(obj, x)
    {
        m[i++] = x;
    }
    qsort(m, n, sizeof *m, ent_cmp);
    if (put_varint(e, n) < 0) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        size_t vs = 0;
        if (i > 0 && ent_cmp(&m[i - 1], &m[i]) == 0) {
            return twice_fail(e);
        }
        if (put_varint(e, m[i]->klen) < 0 || put(e, m[i]->key, m[i]->klen) < 0 ||
            enc_value(e, m[i], depth, &vs) < 0) {
            return -1;
        }
        *size += per_member + m[i]->klen + vs;
    }
    return 0;
}

/* One typed member of an AttributeValue (type is its tag). */
static int enc_typed(struct enc *e, int type, const struct jd *v, size_t depth, size_t *size)
{
    struct ddb_num num;
    char text[DDB_NUM_TEXT_MAX];
    size_t n;
    const struct jd *x;
    long at;
    int b;

    switch (type) {
    case DDB_S:
        *size += v->len;
        return enc_bytes(e, DDB_S, v->s, v->len);
    case DDB_N:
        if (enc_number(e, v->s, v->len, &num) < 0) {
            return -1;
        }
        n = ddb_num_format(&num, text);
        *size += ddb_num_size(&num);
        return enc_bytes(e, DDB_N, text, n);
    case DDB_B:
        return enc_blob(e, v, size);
    case DDB_BOOL:
    case DDB_NULL:
        ser_bool(v, &b, e->err);    /* cannot fail: the type pass accepted it */
        if (type == DDB_NULL && !b) {
            return val_fail(e, "%sNull attribute value types must have the value of true",
                            invalid);
        }
        *size += 1;
        if (type == DDB_NULL) {
            return put_u8(e, DDB_NULL);
        }
        return put_u8(e, DDB_BOOL) < 0 || put_u8(e, (unsigned)b) < 0 ? -1 : 0;
    case DDB_SS:
    case DDB_NS:
    case DDB_BS:
        return enc_set(e, type, v, size);
    case DDB_L:
        if (depth + 1 > DDB_DEPTH_MAX && v->len > 0) {
            return nest_fail(e);
        }
        *size += 3;
        if (put_u8(e, DDB_L) < 0 || (at = begin_len(e)) < 0 || put_varint(e, v->len) < 0) {
            return -1;
        }
        jd_foreach(v, x)
        {
            size_t vs = 0;
            if (enc_value(e, x, depth + 1, &vs) < 0) {
                return -1;
            }
            *size += 1 + vs;
        }
        end_len(e, at);
        return 0;
    case DDB_M:
        if (depth + 1 > DDB_DEPTH_MAX && v->len > 0) {
            return nest_fail(e);
        }
        *size += 3;
        if (put_u8(e, DDB_M) < 0 || (at = begin_len(e)) < 0 ||
            enc_members(e, v, depth + 1, size, 1) < 0) {
            return -1;
        }
        end_len(e, at);
        return 0;
    default:
        return -1;
    }
}

/* One AttributeValue at nesting level depth (the item's attributes are level 1). */
static int enc_value(struct enc *e, const struct jd *av, size_t depth, size_t *size)
{
    size_t count = 0;
    const struct jd *v, *only_v = NULL;
    int only = 0;

    if (av->type == JD_OBJECT) {
        if (av->len > 1 && !jd_names_unique(av, e->a)) {
            return twice_fail(e);
        }
        jd_foreach(av, v)
        {
            int t = type_of_member(v->key, v->klen);
            if (t && v->type != JD_NULL) {
                count++;
                only = t;
                only_v = v;
            }
        }
    }
    if (count == 0) {
        return val_fail(e, "Supplied AttributeValue is empty, must contain exactly one of the "
                           "supported datatypes");
    }
    if (count == 1) {
        return enc_typed(e, only, only_v, depth, size);
    }
    /* DynamoDB checks each member's content before it complains about their number. */
    jd_foreach(av, v)
    {
        int t = type_of_member(v->key, v->klen);
        size_t ignored = 0;
        if (t && v->type != JD_NULL && enc_typed(e, t, v, depth, &ignored) < 0) {
            return -1;
        }
    }
    return val_fail(e, "Supplied AttributeValue has more than one datatypes set, must contain "
                       "exactly one of the supported datatypes");
}

/* A missing value (a NULL json_t) reads as a value of no AttributeValue shape, so the type
 * pass refuses it ("Expected null", "Expected map or null"). */
static const struct jd absent = { .type = JD_NUMBER, .s = "" };

static const struct jd *tree_of(const json_t *j, struct arena *a)
{
    return j ? jd_of_json(j, a) : &absent;
}

static int types_pass(const struct jd *av, struct ddb_err *err)
{
    err->kind = DDB_ERR_NONE;
    err->msg[0] = '\0';
    return ser_value(av, err);
}

int ddb_value_types(const json_t *av, struct arena *a, struct ddb_err *err)
{
    return types_pass(tree_of(av, a), err);
}

int ddb_value_encode(const json_t *av, struct arena *a, struct buf *out, size_t *size,
                     struct ddb_err *err)
{
    const struct jd *v = tree_of(av, a);
    struct enc e = { a, out, err, false };
    *size = 0;
    if (types_pass(v, err) < 0) {
        return -1;
    }
    if (enc_value(&e, v, 1, size) < 0) {
        if (e.full && err->kind == DDB_ERR_NONE) {
            return val_fail(&e, "Item size has exceeded the maximum allowed size");
        }
        return -1;
    }
    return 0;
}

int ddb_item_encode_jd(const struct jd *item, struct arena *a, struct buf *out, size_t *size,
                       struct ddb_err *err)
{
    struct enc e = { a, out, err, false };
    static const unsigned char header[5] = { 1, 0, 0, 0, 0 };
    size_t start = out->len, sz = 0;
    unsigned char *h;

    err->kind = DDB_ERR_NONE;
    err->msg[0] = '\0';
    if (ser_map(item, err) < 0) {
        return -1;
    }
    if (put(&e, header, sizeof header) < 0 || enc_members(&e, item, 1, &sz, 0) < 0) {
        if (e.full && err->kind == DDB_ERR_NONE) {
            return val_fail(&e, "Item size has exceeded the maximum allowed size");
        }
        return -1;
    }
    if (sz > DDB_ITEM_MAX) {
        return val_fail(&e, "Item size has exceeded the maximum allowed size");
    }
    h = (unsigned char *)out->p + start;
    h[1] = (unsigned char)sz;
    h[2] = (unsigned char)(sz >> 8);
    h[3] = (unsigned char)(sz >> 16);
    h[4] = (unsigned char)(sz >> 24);
    *size = sz;
    return 0;
}

int ddb_item_encode(const json_t *item, struct arena *a, struct buf *out, size_t *size,
                    struct ddb_err *err)
{
    return ddb_item_encode_jd(tree_of(item, a), a, out, size, err);
}

/* ---- reading ---- */

const unsigned char *ddb_rd_varint(const unsigned char *p, const unsigned char *end,
                                   uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; p < end && shift < 64; shift += 7) {
        unsigned char c = *p++;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return p;
        }
    }
    return NULL;
}

static uint32_t rd_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads one value (tag and body) at p. Returns the pointer after it, or NULL. */
const unsigned char *ddb_rd_value(const unsigned char *p, const unsigned char *end, int *type,
                                  const unsigned char **val, size_t *len)
{
    uint64_t n;
    if (p >= end) {
        return NULL;
    }
    *type = *p++;
    switch (*type) {
    case DDB_S:
    case DDB_N:
    case DDB_B:
        p = ddb_rd_varint(p, end, &n);
        if (!p || n > (uint64_t)(end - p)) {
            return NULL;
        }
        *val = p;
        *len = (size_t)n;
        return p + n;
    case DDB_BOOL:
        if (p >= end) {
            return NULL;
        }
        *val = p;
        *len = 1;
        return p + 1;
    case DDB_NULL:
        *val = p;
        *len = 0;
        return p;
    case DDB_L:
    case DDB_M:
    case DDB_SS:
    case DDB_NS:
    case DDB_BS:
        if (end - p < 4) {
            return NULL;
        }
        n = rd_u32(p);
        p += 4;
        if (n > (uint64_t)(end - p)) {
            return NULL;
        }
        *val = p;
        *len = (size_t)n;
        return p + n;
    default:
        return NULL;
    }
}

/* Reads a name (varint length + bytes). */
const unsigned char *ddb_rd_name(const unsigned char *p, const unsigned char *end,
                                 const char **name, size_t *len)
{
    uint64_t n;
    p = ddb_rd_varint(p, end, &n);
    if (!p || n > (uint64_t)(end - p)) {
        return NULL;
    }
    *name = (const char *)p;
    *len = (size_t)n;
    return p + n;
}

int ddb_item_open(const void *p, size_t n, struct ddb_item_view *v)
{
    const unsigned char *b = p;
    if (n < 6 || b[0] != 1) {
        return -EINVAL;
    }
    v->size = rd_u32(b + 1);
    v->end = b + n;
    v->seen = 0;
    v->p = ddb_rd_varint(b + 5, v->end, &v->count);
    return v->p ? 0 : -EINVAL;
}

int ddb_item_next(struct ddb_item_view *v, struct ddb_attr *a)
{
    const unsigned char *p;
    if (v->seen == v->count) {
        return v->p == v->end ? 0 : -EINVAL;
    }
    p = ddb_rd_name(v->p, v->end, &a->name, &a->name_len);
    if (p) {
        p = ddb_rd_value(p, v->end, &a->type, &a->val, &a->val_len);
    }
    if (!p) {
        return -EINVAL;
    }
    v->p = p;
    v->seen++;
    return 1;
}

int ddb_item_find(const void *p, size_t n, const char *name, size_t name_len,
                  struct ddb_attr *a)
{
    struct ddb_item_view v;
    int rc = ddb_item_open(p, n, &v);
    if (rc < 0) {
        return rc;
    }
    while ((rc = ddb_item_next(&v, a)) == 1) {
        if (a->name_len == name_len && memcmp(a->name, name, name_len) == 0) {
            return 1;
        }
    }
    return rc;
}

static bool wanted(const struct ddb_attr *a, const struct sl_str *only, size_t n_only)
{
    if (!only) {
        return true;
    }
    for (size_t i = 0; i < n_only; i++) {
        if (only[i].len == a->name_len && memcmp(only[i].p, a->name, a->name_len) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- writing JSON text ---- */

int ddb_json_string(struct buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    if (buf_append(out, "\"", 1) < 0) {
        return -E2BIG;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t el = 2;
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        if (buf_append(out, s + run, i - run) < 0) {
            return -E2BIG;
        }
        run = i + 1;
        esc[0] = '\\';
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        if (buf_append(out, esc, el) < 0) {
            return -E2BIG;
        }
    }
    if (buf_append(out, s + run, n - run) < 0 || buf_append(out, "\"", 1) < 0) {
        return -E2BIG;
    }
    return 0;
}

static int wj_b64(struct buf *out, const unsigned char *p, size_t n)
{
    char *dst = buf_reserve(out, ddb_b64_encoded_len(n) + 2);
    if (!dst) {
        return -E2BIG;
    }
    dst[0] = '"';
    ddb_b64_encode(p, n, dst + 1);
    dst[ddb_b64_encoded_len(n) + 1] = '"';
    return 0;
}

#define WJ(expr)                                                                               \
    do {                                                                                       \
        int wj_rc_ = (expr);                                                                   \
        if (wj_rc_ < 0) {                                                                      \
            return wj_rc_;                                                                     \
        }                                                                                      \
    } while (0)

/* Appends a string literal (its length known at compile time). */
#define wj_lit(out, s) buf_append((out), (s), sizeof(s) - 1)

static int wj_value(struct buf *out, int type, const unsigned char *v, size_t n, int depth);

/* The members of a container body: count, then entries (named for maps). */
static int wj_entries(struct buf *out, int type, const unsigned char *v, size_t n, int depth)
{
    const unsigned char *p = v, *end = v + n;
    uint64_t count;
    p = ddb_rd_varint(p, end, &count);
    if (!p) {
        return -EINVAL;
    }
    for (uint64_t i = 0; i < count; i++) {
        const unsigned char *cv;
        size_t cl;
        int ct;
        if (i) {
            WJ(wj_lit(out, ","));
        }
        if (type == DDB_M) {
            const char *name;
            size_t nl;
            p = ddb_rd_name(p, end, &name, &nl);
            if (!p) {
                return -EINVAL;
            }
            WJ(ddb_json_string(out, name, nl));
            WJ(wj_lit(out, ":"));
        }
        if (type == DDB_L || type == DDB_M) {
            p = ddb_rd_value(p, end, &ct, &cv, &cl);
            if (!p) {
                return -EINVAL;
            }
            WJ(wj_value(out, ct, cv, cl, depth + 1));
            continue;
        }
        {
            const char *name;
            size_t nl;
            p = ddb_rd_name(p, end, &name, &nl);    /* a set member: length + bytes */
            if (!p) {
                return -EINVAL;
            }
            if (type == DDB_BS) {
                WJ(wj_b64(out, (const unsigned char *)name, nl));
            }
            else {
                WJ(ddb_json_string(out, name, nl));
            }
        }
    }
    return p == end ? 0 : -EINVAL;
}

static int wj_value(struct buf *out, int type, const unsigned char *v, size_t n, int depth)
{
    if (depth > DDB_DEPTH_MAX + 1) {
        return -EINVAL;
    }
    switch (type) {
    case DDB_S:
        WJ(wj_lit(out, "{\"S\":"));
        WJ(ddb_json_string(out, (const char *)v, n));
        return wj_lit(out, "}");
    case DDB_N:
        WJ(wj_lit(out, "{\"N\":\""));
        WJ(buf_append(out, v, n));
        return wj_lit(out, "\"}");
    case DDB_B:
        WJ(wj_lit(out, "{\"B\":"));
        WJ(wj_b64(out, v, n));
        return wj_lit(out, "}");
    case DDB_BOOL:
        return v[0] ? wj_lit(out, "{\"BOOL\":true}") : wj_lit(out, "{\"BOOL\":false}");
    case DDB_NULL:
        return wj_lit(out, "{\"NULL\":true}");
    case DDB_L:
        WJ(wj_lit(out, "{\"L\":["));
        WJ(wj_entries(out, type, v, n, depth));
        return wj_lit(out, "]}");
    case DDB_M:
        WJ(wj_lit(out, "{\"M\":{"));
        WJ(wj_entries(out, type, v, n, depth));
        return wj_lit(out, "}}");
    case DDB_SS:
    case DDB_NS:
    case DDB_BS:
        WJ(type == DDB_SS ? wj_lit(out, "{\"SS\":[")
           : type == DDB_NS ? wj_lit(out, "{\"NS\":[")
                            : wj_lit(out, "{\"BS\":["));
        WJ(wj_entries(out, type, v, n, depth));
        return wj_lit(out, "]}");
    default:
        return -EINVAL;
    }
}

int ddb_item_write_json(const void *p, size_t n, const struct sl_str *only, size_t n_only,
                        struct buf *out)
{
    struct ddb_item_view v;
    struct ddb_attr a;
    bool first = true;
    int rc = ddb_item_open(p, n, &v);

    if (rc < 0) {
        return rc;
    }
    WJ(wj_lit(out, "{"));
    while ((rc = ddb_item_next(&v, &a)) == 1) {
        if (!wanted(&a, only, n_only)) {
            continue;
        }
        if (!first) {
            WJ(wj_lit(out, ","));
        }
        first = false;
        WJ(ddb_json_string(out, a.name, a.name_len));
        WJ(wj_lit(out, ":"));
        WJ(wj_value(out, a.type, a.val, a.val_len, 1));
    }
    if (rc < 0) {
        return rc;
    }
    return wj_lit(out, "}");
}

/* ---- decoding to jansson ---- */

static json_t *jv_value(int type, const unsigned char *v, size_t n, int depth);

static json_t *jv_entries(int type, const unsigned char *v, size_t n, int depth)
{
    const unsigned char *p = v, *end = v + n;
    json_t *c = type == DDB_M ? json_object() : json_array();
    uint64_t count;

    p = ddb_rd_varint(p, end, &count);
    for (uint64_t i = 0; p && i < count; i++) {
        const char *name = NULL;
        size_t nl = 0;
        json_t *x;
        if (type == DDB_M || type == DDB_SS || type == DDB_NS || type == DDB_BS) {
            p = ddb_rd_name(p, end, &name, &nl);
            if (!p) {
                break;
            }
        }
        if (type == DDB_L || type == DDB_M) {
            const unsigned char *cv;
            size_t cl;
            int ct;
            p = ddb_rd_value(p, end, &ct, &cv, &cl);
            x = p ? jv_value(ct, cv, cl, depth + 1) : NULL;
        }
        else if (type == DDB_BS) {
            char *b = xmalloc(ddb_b64_encoded_len(nl) + 1);
            ddb_b64_encode((const unsigned char *)name, nl, b);
            x = json_stringn(b, ddb_b64_encoded_len(nl));
            free(b);
        }
        else {
            x = json_stringn(name, nl);
        }
        if (!x) {
            p = NULL;
            break;
        }
        if (type == DDB_M) {
            json_object_setn_new(c, name, nl, x);
        }
        else {
            json_array_append_new(c, x);
        }
    }
    if (!p || p != end) {
        json_decref(c);
        return NULL;
    }
    return c;
}

static json_t *jv_value(int type, const unsigned char *v, size_t n, int depth)
{
    json_t *inner;
    if (depth > DDB_DEPTH_MAX + 1) {
        return NULL;
    }
    switch (type) {
    case DDB_S:
    case DDB_N:
        inner = json_stringn((const char *)v, n);
        break;
    case DDB_B: {
        char *b = xmalloc(ddb_b64_encoded_len(n) + 1);
        ddb_b64_encode(v, n, b);
        inner = json_stringn(b, ddb_b64_encoded_len(n));
        free(b);
        break;
    }
    case DDB_BOOL:
        inner = json_boolean(v[0]);
        break;
    case DDB_NULL:
        inner = json_true();
        break;
    default:
        inner = jv_entries(type, v, n, depth);
        break;
    }
    if (!inner) {
        return NULL;
    }
    {
        json_t *o = json_object();
        json_object_set_new(o, ddb_type_name(type), inner);
        return o;
    }
}

json_t *ddb_item_to_json(const void *p, size_t n, const struct sl_str *only, size_t n_only)
{
    struct ddb_item_view v;
    struct ddb_attr a;
    json_t *o;
    int rc = ddb_item_open(p, n, &v);

    if (rc < 0) {
        return NULL;
    }
    o = json_object();
    while ((rc = ddb_item_next(&v, &a)) == 1) {
        json_t *x;
        if (!wanted(&a, only, n_only)) {
            continue;
        }
        x = jv_value(a.type, a.val, a.val_len, 1);
        if (!x) {
            rc = -EINVAL;
            break;
        }
        json_object_setn_new(o, a.name, a.name_len, x);
    }
    if (rc < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- sizes ---- */

static size_t size_value(int type, const unsigned char *v, size_t n, int depth);

static size_t size_entries(int type, const unsigned char *v, size_t n, int depth)
{
    const unsigned char *p = v, *end = v + n;
    uint64_t count;
    size_t total = 0;

    p = ddb_rd_varint(p, end, &count);
    for (uint64_t i = 0; p && i < count; i++) {
        const char *name;
        size_t nl;
        if (type == DDB_L || type == DDB_M) {
            const unsigned char *cv;
            size_t cl;
            int ct;
            nl = 0;
            if (type == DDB_M) {
                p = ddb_rd_name(p, end, &name, &nl);
            }
            p = p ? ddb_rd_value(p, end, &ct, &cv, &cl) : NULL;
            if (p) {
                total += 1 + nl + size_value(ct, cv, cl, depth + 1);
            }
            continue;
        }
        p = ddb_rd_name(p, end, &name, &nl);
        if (p) {
            total += size_value(type == DDB_NS ? DDB_N : DDB_S, (const unsigned char *)name,
                                nl, depth);
        }
    }
    return total;
}

static size_t size_value(int type, const unsigned char *v, size_t n, int depth)
{
    struct ddb_num num;
    if (depth > DDB_DEPTH_MAX + 1) {
        return 0;
    }
    switch (type) {
    case DDB_S:
    case DDB_B:
        return n;
    case DDB_N:
        return ddb_num_parse((const char *)v, n, &num) == 0 ? ddb_num_size(&num) : 0;
    case DDB_BOOL:
    case DDB_NULL:
        return 1;
    case DDB_L:
    case DDB_M:
        return 3 + size_entries(type, v, n, depth);
    default:
        return size_entries(type, v, n, depth);
    }
}

size_t ddb_attr_size(const struct ddb_attr *a)
{
    return size_value(a->type, a->val, a->val_len, 1);
}
