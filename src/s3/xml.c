/*
 * xml.c: S3's XML in both directions, and the small text formats S3 responses use.
 *
 * What it is: an XML writer over a bounded buffer (R21) for responses, escaping every byte a
 * key may hold; a reader of XML request bodies on expat that hands each element's text to a
 * callback with its path; the timestamp formats (ISO 8601 in bodies, RFC 1123 in headers);
 * base64 for Content-MD5.
 *
 * What it is not: a DOM. Request bodies (CreateBucketConfiguration, Delete) are small and
 * flat, so a path + text callback is all the handlers need.
 *
 * Invariants: the reader never keeps more than S3__MAX_BODY bytes (the front door caps the
 * body) and a path of at most 255 bytes; DTDs and entities other than XML's five are refused
 * (no entity expansion attacks).
 */
#include <errno.h>
#include <expat.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "s3/s3_int.h"

int s3__xml_escape(struct buf *b, struct sl_str s)
{
    int rc = 0;
    size_t run = 0;

    for (size_t i = 0; i < s.len && rc == 0; i++) {
        unsigned char c = (unsigned char)s.p[i];
        const char *rep = NULL;
        char num[8];
        switch (c) {
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '&':
            rep = "&amp;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                /* S3 writes control characters as numeric references; clients that need
                 * them exact ask for encoding-type=url. */
                snprintf(num, sizeof num, "&#x%X;", c);
                rep = num;
            }
        }
        if (rep) {
            rc = buf_append(b, s.p + i - run, run);
            run = 0;
            if (rc == 0) {
                rc = buf_puts(b, rep);
            }
        }
        else {
            run++;
        }
    }
    if (rc == 0 && run) {
        rc = buf_append(b, s.p + s.len - run, run);
    }
    return rc;
}

int s3__xml_elem(struct buf *b, const char *name, struct sl_str s)
{
    int rc = buf_printf(b, "<%s>", name);
    if (rc == 0) {
        rc = s3__xml_escape(b, s);
    }
    if (rc == 0) {
        rc = buf_printf(b, "</%s>", name);
    }
    return rc;
}

void s3__time_iso(uint64_t ms, char out[25])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char base[20];

    gmtime_r(&t, &tm);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 25, "%.19s.%03uZ", base, (unsigned)(ms % 1000));
}

void s3__time_http(uint64_t ms, char out[30])
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    /* Spelled out rather than strftime's %a/%b, which follow the locale. */
    gmtime_r(&t, &tm);
    snprintf(out, 30, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
}

uint64_t s3__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

long s3__base64_decode(struct sl_str s, unsigned char *out, size_t cap)
{
    static const char alpha[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, pad = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (s.len % 4 != 0) {
        return -1;
    }
    for (size_t i = 0; i < s.len; i++) {
        const char *pos;
        if (s.p[i] == '=') {
            pad++;
            if (i < s.len - 2 || pad > 2) {
                return -1;
            }
            continue;
        }
        if (pad || s.p[i] == '\0' || !(pos = strchr(alpha, s.p[i]))) {
            return -1;
        }
        acc = (acc << 6) | (uint32_t)(pos - alpha);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap) {
                return -1;
            }
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

long s3__xml_long(struct sl_str t)
{
    char b[24];
    char *end;
    long v;
    if (t.len == 0 || t.len >= sizeof b) {
        return -1;
    }
    memcpy(b, t.p, t.len);
    b[t.len] = '\0';
    errno = 0;
    v = strtol(b, &end, 10);
    return *end || errno || end == b ? -1 : v;
}

/* ---- reading request bodies ---- */

#define PATH_MAX_LEN 255
#define TEXT_MAX (64 * 1024)

struct xml_ctx {
    XML_Parser p;
    const char *root;
    int (*fn)(void *ctx, const char *path, struct sl_str text);
    void *ctx;
    char path[PATH_MAX_LEN + 1];
    size_t path_len;
    size_t depth;
    struct buf text;
    bool failed;
    bool bad_root;
};

/* Element names come namespace-qualified ("uri local") because the parser is created with
 * a namespace separator; the local part is what S3's schema names. */
static const char *local_name(const char *name)
{
    const char *sp = strrchr(name, ' ');
    return sp ? sp + 1 : name;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct xml_ctx *x = ud;
    const char *ln = local_name(name);
    size_t n = strlen(ln);

    (void)attrs;
    if (x->failed) {
        return;
    }
    if (x->depth == 0 && strcmp(ln, x->root) != 0) {
        x->bad_root = true;
        x->failed = true;
        XML_StopParser(x->p, XML_FALSE);
        return;
    }
    if (x->path_len + (x->path_len ? 1 : 0) + n > PATH_MAX_LEN) {
        x->failed = true;
        XML_StopParser(x->p, XML_FALSE);
        return;
    }
    if (x->path_len) {
        x->path[x->path_len++] = '/';
    }
    memcpy(x->path + x->path_len, ln, n);
    x->path_len += n;
    x->path[x->path_len] = '\0';
    x->depth++;
    buf_reset(&x->text);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct xml_ctx *x = ud;
    char *slash;

    (void)name;
    if (x->failed) {
        return;
    }
    if (x->fn(x->ctx, x->path, (struct sl_str){ x->text.p ? x->text.p : "", x->text.len }) <
        0) {
        x->failed = true;
        XML_StopParser(x->p, XML_FALSE);
        return;
    }
    buf_reset(&x->text);
    slash = strrchr(x->path, '/');
    x->path_len = slash ? (size_t)(slash - x->path) : 0;
    x->path[x->path_len] = '\0';
    x->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct xml_ctx *x = ud;
    if (x->failed) {
        return;
    }
    if (buf_append(&x->text, s, (size_t)len) < 0) {
        x->failed = true;
        XML_StopParser(x->p, XML_FALSE);
    }
}

/* Refuses any DTD: S3's bodies never carry one, and entity declarations are how XML bombs
 * start. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal)
{
    struct xml_ctx *x = ud;
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal;
    x->failed = true;
    XML_StopParser(x->p, XML_FALSE);
}

int s3__xml_parse(const char *p, size_t n, const char *root,
                  int (*fn)(void *ctx, const char *path, struct sl_str text), void *ctx)
{
    struct xml_ctx x;
    enum XML_Status st;
    int rc = 0;

    if (n > S3__MAX_BODY) {
        return -1;
    }
    memset(&x, 0, sizeof x);
    x.root = root;
    x.fn = fn;
    x.ctx = ctx;
    buf_init(&x.text, TEXT_MAX);
    x.p = XML_ParserCreateNS(NULL, ' ');
    if (!x.p) {
        buf_release(&x.text);
        return -ENOMEM;
    }
    XML_SetUserData(x.p, &x);
    XML_SetElementHandler(x.p, on_start, on_end);
    XML_SetCharacterDataHandler(x.p, on_text);
    XML_SetStartDoctypeDeclHandler(x.p, on_doctype);
    st = XML_Parse(x.p, p ? p : "", (int)n, XML_TRUE);
    if (st != XML_STATUS_OK || x.failed) {
        rc = -1;
    }
    XML_ParserFree(x.p);
    buf_release(&x.text);
    return rc;
}

int s3__xml_parse_or_reply(struct http_req *r, const char *root,
                           int (*fn)(void *ctx, const char *path, struct sl_str text),
                           void *ctx)
{
    int rc = s3__xml_parse(r->body.p, r->body.len, root, fn, ctx);

    if (rc == -ENOMEM) {
        return http_req_fail(r, AWSERR_S3_INTERNAL, NULL);
    }
    if (rc < 0 && r->err == AWSERR_NONE) {
        http_req_fail(r, AWSERR_S3_MALFORMED_XML, NULL);
    }
    return rc < 0 ? -1 : 0;
}

/* ---- conditional request headers ---- */

bool s3__etag_matches(const char *h, const char *etag)
{
    /* etag is quoted; compare what is inside the quotes with each listed tag, quoted or not,
     * a weak W/ prefix ignored (S3 compares entity tags strongly but clients send both). */
    size_t el = strlen(etag);
    struct sl_str want = { etag + 1, el >= 2 ? el - 2 : 0 };
    const char *p = h;

    while (*p) {
        const char *start, *stop;
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        if (!*p) {
            break;
        }
        start = p;
        while (*p && *p != ',') {
            p++;
        }
        stop = p;
        while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t')) {
            stop--;
        }
        if (stop - start == 1 && *start == '*') {
            return true;
        }
        if (stop - start >= 2 && start[0] == 'W' && start[1] == '/') {
            start += 2;
        }
        if (stop - start >= 2 && *start == '"' && stop[-1] == '"') {
            start++;
            stop--;
        }
        if (sl_str_eq((struct sl_str){ start, (size_t)(stop - start) }, want)) {
            return true;
        }
    }
    return false;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int month_of(const char *s)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++) {
        if (strncmp(names + 3 * i, s, 3) == 0) {
            return i + 1;
        }
    }
    return 0;
}

int s3__http_date_parse(const char *s, int64_t *out)
{
    char mon[4] = "";
    int d = 0, y = 0, hh = 0, mm = 0, ss = 0, m;
    const char *comma = strchr(s, ',');

    if (comma) {
        /* "Sun, 06 Nov 1994 08:49:37 GMT" or RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" */
        if (sscanf(comma + 1, " %2d %3s %4d %2d:%2d:%2d", &d, mon, &y, &hh, &mm, &ss) != 6 &&
            sscanf(comma + 1, " %2d-%3s-%4d %2d:%2d:%2d", &d, mon, &y, &hh, &mm, &ss) != 6) {
            return -1;
        }
        if (y < 100) {
            y += y < 70 ? 2000 : 1900;
        }
    }
    else if (sscanf(s, "%*3s %3s %2d %2d:%2d:%2d %4d", mon, &d, &hh, &mm, &ss, &y) != 6) {
        return -1; /* asctime: "Sun Nov  6 08:49:37 1994" */
    }
    m = month_of(mon);
    if (!m || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 || y < 1900 || y > 9999) {
        return -1;
    }
    *out = days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 + hh * 3600 + mm * 60 + ss;
    return 0;
}
