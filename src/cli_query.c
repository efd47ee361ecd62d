/*
 * cli_query.c: `sluice query 'SQL'`, SQL over the archive of a running server.
 *
 * What it is: a client of POST /_sluice/query (docs/formats.md, "Queries"). It signs the
 * request with SigV4 for the service name "sluice" (core/sigv4.h's sigv4_sign), sends it with
 * libcurl (loaded when a query is sent, see cli_curl), and prints the answer: an aligned text
 * table by default, one JSON array per row
 * with --json, or the answer as received with --raw. Credentials come from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or else from the server's data directory
 * (--data-dir, core/auth.h), which is only read: a missing credentials file is an error, never
 * created here.
 *
 * What it is not: a server-side piece. It runs in its own process, on the main thread.
 *
 * Exit status: 0 when the query ran (also when the answer was truncated: the table says so);
 * 1 when the server refused it or could not be reached, with the reason on stderr; 2 for a
 * usage error.
 */
#include "cli_query.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/auth.h"
#include "core/mem.h"
#include "core/sigv4.h"
#include "query/query.h"

#define CLI_ANSWER_MAX (64u * 1024 * 1024)  /* the server sends at most 8 MiB */
#define CLI_STDIN_MAX (1024u * 1024)

enum cli_output { OUT_TABLE = 0, OUT_JSON, OUT_RAW };

struct cli_opts {
    const char *endpoint;
    const char *data_dir;
    const char *region;
    const char *sql;
    enum cli_output output;
};

void cli_query_usage(void *fp)
{
    FILE *f = fp;
    fprintf(f,
            "usage: sluice query [flags] 'SQL'\n"
            "       sluice query [flags] -      (the SQL from standard input)\n\n"
            "Runs SQL over the records archived in S3 on a running sluice (POST "
            "/_sluice/query),\n"
            "e.g. SELECT customer, count(*), sum(amount) FROM archive('invoice-archive', "
            "'2026/')\n"
            "GROUP BY customer, and prints the answer.\n\n"
            "flags:\n"
            "  --endpoint URL   the server (default $SLUICE_ENDPOINT or "
            "http://127.0.0.1:4566)\n"
            "  --data-dir DIR   the server's data directory, for its credentials file when\n"
            "                   AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set\n"
            "                   (default $SLUICE_DATA_DIR or ./data)\n"
            "  --region NAME    region of the signature (default $AWS_REGION, "
            "$AWS_DEFAULT_REGION\n"
            "                   or us-east-1)\n"
            "  --json           one JSON array per row instead of a table\n"
            "  --raw            the server's answer as it came\n"
            "  --help           print this help\n");
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

/* Returns 0, 1 when --help was asked (printed), or 2 after printing a usage error. */
static int parse_args(int argc, char **argv, struct cli_opts *o)
{
    bool flags = true;

    memset(o, 0, sizeof *o);
    o->endpoint = env_or("SLUICE_ENDPOINT", "http://127.0.0.1:4566");
    o->data_dir = env_or("SLUICE_DATA_DIR", "./data");
    o->region = env_or("AWS_REGION", env_or("AWS_DEFAULT_REGION", "us-east-1"));
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        size_t n;

        if (flags && strcmp(a, "--") == 0) {
            flags = false;
            continue;
        }
        if (flags && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            cli_query_usage(stdout);
            return 1;
        }
        if (flags && strcmp(a, "--json") == 0) {
            o->output = OUT_JSON;
            continue;
        }
        if (flags && strcmp(a, "--raw") == 0) {
            o->output = OUT_RAW;
            continue;
        }
        if (flags && strncmp(a, "--", 2) == 0) {
            static const char *const names[] = { "endpoint", "data-dir", "region" };
            const char **slots[] = { &o->endpoint, &o->data_dir, &o->region };
            n = strcspn(a + 2, "=");
            for (size_t k = 0; k < 3; k++) {
                if (strlen(names[k]) == n && strncmp(a + 2, names[k], n) == 0) {
                    slot = slots[k];
                }
            }
            if (!slot) {
                fprintf(stderr, "sluice query: unknown flag '%s' (see sluice query --help)\n",
                        a);
                return 2;
            }
            if (a[2 + n] == '=') {
                *slot = a + 3 + n;
            }
            else if (i + 1 < argc) {
                *slot = argv[++i];
            }
            else {
                fprintf(stderr, "sluice query: flag %s needs a value\n", a);
                return 2;
            }
            continue;
        }
        if (o->sql) {
            fprintf(stderr, "sluice query: one SQL statement, quoted as one argument (see "
                            "sluice query --help)\n");
            return 2;
        }
        o->sql = a;
    }
    if (!o->sql) {
        cli_query_usage(stderr);
        return 2;
    }
    return 0;
}

/* Reads the SQL from standard input (owned, free()). NULL with a message on failure. */
static char *read_stdin(void)
{
    struct buf b;
    char tmp[4096];
    size_t n;

    buf_init(&b, CLI_STDIN_MAX);
    while ((n = fread(tmp, 1, sizeof tmp, stdin)) > 0) {
        if (buf_append(&b, tmp, n) < 0) {
            fprintf(stderr, "sluice query: the SQL on standard input is larger than %u bytes\n",
                    CLI_STDIN_MAX);
            buf_release(&b);
            return NULL;
        }
    }
    return buf_detach(&b, NULL);
}

/* The credentials to sign with, into id and secret. Returns 0, or -1 with a message. */
static int credentials(const char *data_dir, char *id, size_t idlen, char *secret,
                       size_t secretlen)
{
    const char *eid = getenv("AWS_ACCESS_KEY_ID");
    const char *esecret = getenv("AWS_SECRET_ACCESS_KEY");
    char path[4100], err[512];
    struct auth *a = NULL;
    int created = 0;
    bool root_env = getenv("SLUICE_ROOT_ACCESS_KEY_ID") &&
                    getenv("SLUICE_ROOT_SECRET_ACCESS_KEY");

    if (eid && *eid && esecret && *esecret) {
        snprintf(id, idlen, "%s", eid);
        snprintf(secret, secretlen, "%s", esecret);
        return 0;
    }
    snprintf(path, sizeof path, "%s/credentials", data_dir);
    /* auth_load() would create a key in an empty directory: only let it read one. */
    if (!root_env && access(path, R_OK) != 0) {
        fprintf(stderr, "sluice query: no credentials: set AWS_ACCESS_KEY_ID and "
                        "AWS_SECRET_ACCESS_KEY, or point --data-dir at the server's data "
                        "directory (%s: %s)\n", path, strerror(errno));
        return -1;
    }
    if (auth_load(data_dir, &a, &created, err, sizeof err) < 0) {
        fprintf(stderr, "sluice query: %s\n", err);
        return -1;
    }
    snprintf(id, idlen, "%s", auth_root_access_key(a));
    snprintf(secret, secretlen, "%s", auth_root_secret(a));
    auth_free(a);
    return 0;
}

/*
 * libcurl, loaded with dlopen() by the one command that uses it. Linked into the binary it
 * made every `sluice serve` load libcurl and the twenty libraries it needs (Kerberos, LDAP,
 * SSH, RTMP, ...): about 3.5 ms of each start-up on a 2-core machine, for a server that never
 * calls it. The pointers have the types of the functions in curl/curl.h.
 */
struct cli_curl {
    void *lib;
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_global_cleanup) *global_cleanup;
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_perform) *easy_perform;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
    __typeof__(curl_url) *url;
    __typeof__(curl_url_set) *url_set;
    __typeof__(curl_url_get) *url_get;
    __typeof__(curl_url_cleanup) *url_cleanup;
    __typeof__(curl_free) *free;
};

#define CLI_CURL_FN(f) { "curl_" #f, offsetof(struct cli_curl, f) }
static const struct {
    const char *name;
    size_t off;
} cli_curl_fns[] = {
    CLI_CURL_FN(global_init), CLI_CURL_FN(global_cleanup), CLI_CURL_FN(easy_init),
    CLI_CURL_FN(easy_setopt), CLI_CURL_FN(easy_perform), CLI_CURL_FN(easy_getinfo),
    CLI_CURL_FN(easy_cleanup), CLI_CURL_FN(easy_strerror), CLI_CURL_FN(slist_append),
    CLI_CURL_FN(slist_free_all), CLI_CURL_FN(url), CLI_CURL_FN(url_set), CLI_CURL_FN(url_get),
    CLI_CURL_FN(url_cleanup), CLI_CURL_FN(free),
};

/* Loads libcurl (the OpenSSL build's name first, then the GnuTLS one's) and every function
 * of struct cli_curl, and initialises it. Returns 0, or -1 with a message printed. */
static int cli_curl_load(struct cli_curl *lc)
{
    static const char *const sonames[] = { "libcurl.so.4", "libcurl-gnutls.so.4" };

    memset(lc, 0, sizeof *lc);
    for (size_t i = 0; i < sizeof sonames / sizeof sonames[0] && !lc->lib; i++) {
        lc->lib = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
    }
    if (!lc->lib) {
        fprintf(stderr, "sluice query: cannot load libcurl: %s\n", dlerror());
        return -1;
    }
    for (size_t i = 0; i < sizeof cli_curl_fns / sizeof cli_curl_fns[0]; i++) {
        void *fn = dlsym(lc->lib, cli_curl_fns[i].name);

        if (!fn) {
            fprintf(stderr, "sluice query: libcurl has no %s\n", cli_curl_fns[i].name);
            dlclose(lc->lib);
            lc->lib = NULL;
            return -1;
        }
        /* POSIX lets a function's address travel through dlsym()'s void *. */
        memcpy((char *)lc + cli_curl_fns[i].off, &fn, sizeof fn);
    }
    if (lc->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "sluice query: cannot start libcurl\n");
        dlclose(lc->lib);
        lc->lib = NULL;
        return -1;
    }
    return 0;
}

static void cli_curl_unload(struct cli_curl *lc)
{
    if (lc->lib) {
        lc->global_cleanup();
        dlclose(lc->lib);
        lc->lib = NULL;
    }
}

static size_t write_cb(char *p, size_t size, size_t n, void *ctx)
{
    struct buf *b = ctx;
    return buf_append(b, p, size * n) < 0 ? 0 : size * n;
}

/* Sends the signed POST; fills *status and appends the answer's bytes to *answer (bounded by
 * its maximum). Returns 0, or -1 with a message printed. */
static int post(const struct cli_curl *lc, const struct cli_opts *o, const char *body,
                size_t len, long *status, struct buf *answer)
{
    CURLU *u = lc->url();
    CURL *c = NULL;
    struct curl_slist *hdrs = NULL;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    char id[256], secret[256], date[17], hash[65], auth[512], errbuf[CURL_ERROR_SIZE] = "";
    char host_hdr[512], url[1024], line[1100];
    struct sigv4_kv h[3];
    struct sigv4_request rq;
    time_t now = time(NULL);
    struct tm tm;
    int rc = -1;

    if (lc->url_set(u, CURLUPART_URL, o->endpoint, 0) != CURLUE_OK ||
        lc->url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        lc->url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        lc->url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        fprintf(stderr, "sluice query: --endpoint '%s' is not a URL like "
                        "http://127.0.0.1:4566\n", o->endpoint);
        goto out;
    }
    if (strcmp(path, "/") != 0 && strcmp(path, "") != 0) {
        fprintf(stderr, "sluice query: --endpoint '%s' must not have a path\n", o->endpoint);
        goto out;
    }
    if (lc->url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK) {
        port = NULL;    /* the scheme's default: Host carries no port, as curl sends it */
    }
    snprintf(host_hdr, sizeof host_hdr, "%s%s%s", host, port ? ":" : "", port ? port : "");
    snprintf(url, sizeof url, "%s://%s/_sluice/query", scheme, host_hdr);
    if (credentials(o->data_dir, id, sizeof id, secret, sizeof secret) < 0) {
        goto out;
    }

    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
    sigv4_sha256_hex(body, len, hash);
    h[0] = (struct sigv4_kv){ SL_STR_LIT("content-type"), SL_STR_LIT("application/json") };
    h[1] = (struct sigv4_kv){ SL_STR_LIT("host"), sl_str_c(host_hdr) };
    h[2] = (struct sigv4_kv){ SL_STR_LIT("x-amz-date"), sl_str_c(date) };
    memset(&rq, 0, sizeof rq);
    rq.method = SL_STR_LIT("POST");
    rq.raw_path = SL_STR_LIT("/_sluice/query");
    rq.headers = h;
    rq.n_headers = 3;
    rq.payload_hash = hash;
    rq.now = now;
    if (sigv4_sign(&rq, id, secret, o->region, "sluice", "content-type;host;x-amz-date", auth,
                   sizeof auth) < 0) {
        fprintf(stderr, "sluice query: cannot sign the request (credentials too long?)\n");
        goto out;
    }
    hdrs = lc->slist_append(hdrs, "Content-Type: application/json");
    snprintf(line, sizeof line, "Host: %s", host_hdr);
    hdrs = lc->slist_append(hdrs, line);
    snprintf(line, sizeof line, "X-Amz-Date: %s", date);
    hdrs = lc->slist_append(hdrs, line);
    snprintf(line, sizeof line, "Authorization: %s", auth);
    hdrs = lc->slist_append(hdrs, line);
    hdrs = lc->slist_append(hdrs, "Expect:");  /* no 100-continue round trip */

    c = lc->easy_init();
    if (!c) {
        fprintf(stderr, "sluice query: cannot start libcurl\n");
        goto out;
    }
    lc->easy_setopt(c, CURLOPT_URL, url);
    lc->easy_setopt(c, CURLOPT_POST, 1L);
    lc->easy_setopt(c, CURLOPT_POSTFIELDS, body);
    lc->easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    lc->easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    lc->easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    lc->easy_setopt(c, CURLOPT_WRITEDATA, answer);
    lc->easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    lc->easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    lc->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    lc->easy_setopt(c, CURLOPT_USERAGENT, "sluice/" SLUICE_VERSION);
    {
        CURLcode cc = lc->easy_perform(c);
        if (cc != CURLE_OK) {
            fprintf(stderr, "sluice query: cannot reach %s: %s\n", o->endpoint,
                    errbuf[0] ? errbuf : lc->easy_strerror(cc));
            goto out;
        }
    }
    lc->easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    rc = 0;
out:
    OPENSSL_cleanse(secret, sizeof secret);
    lc->easy_cleanup(c);
    lc->slist_free_all(hdrs);
    lc->free(scheme);
    lc->free(host);
    lc->free(port);
    lc->free(path);
    lc->url_cleanup(u);
    return rc;
}

/* ---- printing ---- */

/* Columns of a display: UTF-8 code points (continuation bytes take no column). */
static size_t display_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            w++;
        }
    }
    return w;
}

/* A cell's text (owned, free()): NULL, numbers as the server sent them, strings with control
 * characters escaped so that a row stays on one line. */
static char *cell_text(const json_t *v)
{
    struct buf b;
    char num[40];

    buf_init(&b, CLI_ANSWER_MAX);
    switch (json_typeof(v)) {
    case JSON_NULL:
        buf_puts(&b, "NULL");
        break;
    case JSON_INTEGER:
        buf_printf(&b, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        buf_append(&b, num, qry_real_format(json_real_value(v), num, sizeof num));
        break;
    case JSON_STRING: {
        const char *p = json_string_value(v);
        size_t n = json_string_length(v);
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)p[i];
            if (ch == '\n') {
                buf_puts(&b, "\\n");
            }
            else if (ch == '\t') {
                buf_puts(&b, "\\t");
            }
            else if (ch < 0x20 || ch == 0x7f) {
                buf_printf(&b, "\\x%02x", ch);
            }
            else {
                buf_append(&b, p + i, 1);
            }
        }
        break;
    }
    default:
        qry_json_write(&b, v);
    }
    return buf_detach(&b, NULL);
}

static void put_padded(struct buf *line, const char *s, size_t width, bool right)
{
    size_t w = display_width(s, strlen(s));
    if (right) {
        for (size_t i = w; i < width; i++) {
            buf_append(line, " ", 1);
        }
    }
    buf_puts(line, s);
    if (!right) {
        for (size_t i = w; i < width; i++) {
            buf_append(line, " ", 1);
        }
    }
}

/* Prints the line without its trailing blanks. */
static void put_line(FILE *out, struct buf *line)
{
    while (line->len && line->p[line->len - 1] == ' ') {
        line->len--;
    }
    fwrite(line->p ? line->p : "", 1, line->len, out);
    fputc('\n', out);
    buf_reset(line);
}

/*
 * The table: headers, a rule, the rows, then "(N rows)". A column whose values are all
 * numbers (NULLs aside) is aligned right, its header too; the others left.
 *
 *   customer | count(*) | sum(amount)
 *   ---------+----------+------------
 *   acme     |        3 |       200.5
 *   (1 row)
 */
static void print_table(FILE *out, const json_t *cols, const json_t *rows, bool truncated)
{
    size_t nc = json_array_size(cols), nr = json_array_size(rows);
    size_t *width = xcalloc(nc + 1, sizeof *width);
    bool *right = xcalloc(nc + 1, sizeof *right);
    char **cells = xcalloc(nr * nc + 1, sizeof *cells);
    struct buf line;

    buf_init(&line, CLI_ANSWER_MAX);
    for (size_t j = 0; j < nc; j++) {
        const char *h = json_string_value(json_array_get(cols, j));
        width[j] = display_width(h ? h : "", h ? strlen(h) : 0);
        right[j] = nr > 0;
    }
    for (size_t i = 0; i < nr; i++) {
        const json_t *row = json_array_get(rows, i);
        for (size_t j = 0; j < nc; j++) {
            const json_t *v = json_array_get(row, j);
            char *t = cell_text(v ? v : json_null());
            size_t w = display_width(t, strlen(t));
            if (v && !json_is_number(v) && !json_is_null(v)) {
                right[j] = false;
            }
            width[j] = w > width[j] ? w : width[j];
            cells[i * nc + j] = t;
        }
    }
    for (size_t j = 0; j < nc; j++) {
        const char *h = json_string_value(json_array_get(cols, j));
        buf_puts(&line, j ? " | " : "");
        put_padded(&line, h ? h : "", width[j], right[j]);
    }
    put_line(out, &line);
    for (size_t j = 0; j < nc; j++) {
        buf_puts(&line, j ? "-+-" : "");
        for (size_t k = 0; k < width[j]; k++) {
            buf_append(&line, "-", 1);
        }
    }
    put_line(out, &line);
    for (size_t i = 0; i < nr; i++) {
        for (size_t j = 0; j < nc; j++) {
            buf_puts(&line, j ? " | " : "");
            put_padded(&line, cells[i * nc + j], width[j], right[j]);
            free(cells[i * nc + j]);
        }
        put_line(out, &line);
    }
    fprintf(out, "(%zu row%s%s)\n", nr, nr == 1 ? "" : "s",
            truncated ? "; truncated at the server's result limit" : "");
    buf_release(&line);
    free(cells);
    free(right);
    free(width);
}

static void print_json_rows(FILE *out, const json_t *rows)
{
    struct buf b;
    size_t i;
    json_t *row;

    buf_init(&b, CLI_ANSWER_MAX);
    json_array_foreach(rows, i, row) {
        buf_reset(&b);
        qry_json_write(&b, row);
        fwrite(b.p, 1, b.len, out);
        fputc('\n', out);
    }
    buf_release(&b);
}

/* Prints the error of a refused query: "sluice query: <code>: <message>". */
static void print_error(const struct cli_opts *o, long status, const struct buf *answer)
{
    json_t *e = json_loadb(answer->p ? answer->p : "", answer->len, 0, NULL);
    const char *type = json_string_value(json_object_get(e, "__type"));
    const char *msg = json_string_value(json_object_get(e, "message"));

    if (type || msg) {
        fprintf(stderr, "sluice query: %s%s%s\n", type ? type : "", type && msg ? ": " : "",
                msg ? msg : "");
    }
    else {
        fprintf(stderr, "sluice query: HTTP %ld from %s: %.200s\n", status, o->endpoint,
                answer->p ? answer->p : "");
    }
    json_decref(e);
}

int cli_query(int argc, char **argv)
{
    struct cli_curl lc = { 0 };
    struct cli_opts o;
    struct buf answer;
    char *sql_in = NULL;
    json_t *body = NULL, *a = NULL;
    char *text = NULL;
    long status = 0;
    int rc = parse_args(argc, argv, &o);

    if (rc) {
        return rc == 1 ? 0 : 2;
    }
    buf_init(&answer, CLI_ANSWER_MAX);
    rc = 1;
    if (strcmp(o.sql, "-") == 0) {
        sql_in = read_stdin();
        if (!sql_in) {
            goto out;
        }
        o.sql = sql_in;
    }
    body = json_pack("{s:s}", "sql", o.sql);
    if (!body) {
        fprintf(stderr, "sluice query: the SQL is not valid UTF-8\n");
        goto out;
    }
    text = json_dumps(body, JSON_COMPACT);
    sigv4_global_init();
    if (cli_curl_load(&lc) == 0 && post(&lc, &o, text, strlen(text), &status, &answer) == 0) {
        if (status != 200) {
            print_error(&o, status, &answer);
        }
        else if (o.output == OUT_RAW) {
            fwrite(answer.p ? answer.p : "", 1, answer.len, stdout);
            fputc('\n', stdout);
            rc = 0;
        }
        else if (!(a = json_loadb(answer.p ? answer.p : "", answer.len, 0, NULL)) ||
                 !json_is_array(json_object_get(a, "columns")) ||
                 !json_is_array(json_object_get(a, "rows"))) {
            fprintf(stderr, "sluice query: %s answered something that is not a query answer\n",
                    o.endpoint);
        }
        else {
            if (o.output == OUT_JSON) {
                print_json_rows(stdout, json_object_get(a, "rows"));
            }
            else {
                print_table(stdout, json_object_get(a, "columns"), json_object_get(a, "rows"),
                            json_is_true(json_object_get(a, "truncated")));
            }
            rc = 0;
        }
    }
    cli_curl_unload(&lc);
    sigv4_global_cleanup();
out:
    if (fflush(stdout) != 0 && rc == 0) {
        rc = 1;     /* stdout closed or full: the answer did not get out */
    }
    json_decref(a);
    json_decref(body);
    free(text);
    free(sql_in);
    buf_release(&answer);
    return rc;
}
