/*
 * qry_int.h: declarations shared inside src/query/ (R2); never included from outside.
 *
 * The pieces, bottom up: scan.c finds archive(...) calls in SQL text; input.c turns an
 * object's body into bytes (plain, or gzip inflated as a stream); records.c cuts those bytes
 * into JSON values; json.c writes JSON text; archive.c is the SQLite virtual table and the
 * column inference; engine.c runs one query; service.c is POST /_sluice/query.
 */
#ifndef SL_QUERY_INT_H
#define SL_QUERY_INT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "core/mem.h"
#include "query/query.h"

/* ---- scan.c ---- */

#define QRY__CALLS_MAX 16       /* distinct literal archive() calls whose columns are inferred */

/* One literal call: archive('bucket') or archive('bucket', 'prefix'). */
struct qry__call {
    char *bucket;               /* owned, the literal's value */
    char *prefix;               /* owned, "" when the call has one argument */
};

struct qry__calls {
    struct qry__call v[QRY__CALLS_MAX];
    size_t n;                   /* distinct literal calls in v */
    size_t total;               /* every archive( seen, literal or not */
    size_t nonliteral;          /* calls whose arguments are not all string literals */
    size_t dropped;             /* distinct literal calls past QRY__CALLS_MAX */
};

/* Finds the archive(...) calls of sql[0..len) into *out (which the caller releases with
 * qry__calls_release()). Never fails; the strings it copies are small (literals). */
void qry__scan_calls(const char *sql, size_t len, struct qry__calls *out);
void qry__calls_release(struct qry__calls *c);
/* True when p[0..len) holds only blanks, comments and semicolons. */
bool qry__sql_blank(const char *p, size_t len);

/* ---- input.c ---- */

/* Reads up to cap bytes into dst; sets *got (0 only at the end). Returns 0 or -errno. */
typedef int (*qry__read_fn)(void *ctx, void *dst, size_t cap, size_t *got);

#define QRY__CHUNK (64 * 1024)  /* bytes read from a body file at a time */

/*
 * The decoded bytes of one object. The first bytes decide: 1f 8b (gzip's magic) means gzip,
 * inflated as a stream member after member (a multi-member file is the concatenation of its
 * members' data, as gunzip reads it); anything else is passed through as is.
 *
 *   START --first read: magic?--> PLAIN | GZIP
 *   GZIP --member's end, more bytes--> GZIP (next member)    --no more bytes--> END
 *   GZIP --bad data / truncated member / trailing bytes that are no member--> CORRUPT
 */
struct qry__input {
    qry__read_fn read;
    void *ctx;
    unsigned char *in;          /* owned, QRY__CHUNK bytes (or the chunk given to init) */
    size_t in_cap;
    size_t in_pos;
    size_t in_len;
    bool raw_eof;               /* read() reported the end */
    bool started;               /* the magic was looked at */
    bool gzip;
    bool z_live;                /* inflateInit2 done (z must be ended) */
    bool member_end;            /* a member ended; the next bytes must start another */
    bool end;                   /* nothing more will come */
    int corrupt;                /* -EBADMSG once the gzip stream proved bad */
    uint64_t raw_bytes;         /* bytes read from the source so far */
    z_stream z;
};

/* chunk: the size of the compressed-input buffer (0 picks QRY__CHUNK; tests use tiny ones).
 * fn and ctx are borrowed until release. */
void qry__input_init(struct qry__input *in, qry__read_fn fn, void *ctx, size_t chunk);
/* Decoded bytes: up to cap into dst, *got 0 only at the end. Returns 0, -EBADMSG when the gzip
 * data is corrupt, truncated or followed by bytes that are not a gzip member (the bytes decoded
 * before that were delivered), or the source's -errno. After an error only release. */
int qry__input_read(struct qry__input *in, void *dst, size_t cap, size_t *got);
void qry__input_release(struct qry__input *in);
/* A qry__read_fn over a file descriptor: ctx points at the int fd. Retries EINTR. */
int qry__fd_read(void *ctx, void *dst, size_t cap, size_t *got);

/* ---- records.c ---- */

#define QRY__RECORD_MAX (4u * 1024 * 1024)   /* the largest record (a JSON value) read whole */
#define QRY__BUF_INITIAL (64u * 1024)
#define QRY__FIELDS_MAX 4096                 /* top-level members of a record that are noted */

enum qry__rec {
    QRY__REC_END = 0,           /* no more records */
    QRY__REC_OBJECT,            /* a JSON object: rs->text/text_len, rs->fields */
    QRY__REC_SKIPPED,           /* a value that is no object, or bytes that are no JSON */
};

enum qry__jtype {
    QRY__J_STRING = 0,
    QRY__J_NUMBER,
    QRY__J_TRUE,
    QRY__J_FALSE,
    QRY__J_NULL,
    QRY__J_OBJECT,
    QRY__J_ARRAY,
};

/* A top-level member of the current record: offsets into rs->text. */
struct qry__field {
    uint32_t key;               /* the key's first byte after its opening quote */
    uint32_t key_len;           /* its length as stored (escapes undecoded) */
    uint32_t val;               /* the value's first byte */
    uint32_t val_len;           /* its length (a string's with its quotes) */
    enum qry__jtype type;
    bool key_escaped;           /* the key holds a backslash */
    bool flag;                  /* a string: holds a backslash; a number: is an integer */
};

/*
 * A stream of concatenated JSON values: JSON lines, or values back to back with any JSON
 * whitespace (or none) between them. Each value is validated by a scanner that builds
 * nothing; for an object (a record) the scanner notes each top-level member in fields.
 * Bytes that are not JSON are skipped to the next newline and counted as one skipped record,
 * as is a truncated last value, a value larger than max, and a corrupt gzip tail. The buffer
 * starts at `initial` bytes and doubles up to `max`.
 */
struct qry__records {
    struct qry__input *in;      /* borrowed */
    char *buf;                  /* owned */
    size_t cap;
    size_t max;
    size_t pos;                 /* first byte not yet consumed */
    size_t len;                 /* bytes in buf */
    bool eof;                   /* the input is exhausted (or corrupt) */
    bool corrupt_pending;       /* a corrupt input tail still to be reported as skipped */
    uint64_t consumed;          /* decoded bytes consumed so far */
    const char *text;           /* the current object's bytes in buf, until the next call */
    size_t text_len;
    struct qry__field *fields;  /* owned: its top-level members, in order */
    size_t n_fields;
    size_t cap_fields;
    bool fields_dropped;        /* it has more than QRY__FIELDS_MAX members */
};

void qry__records_init(struct qry__records *rs, struct qry__input *in, size_t initial,
                       size_t max);
/* The next record into *what (and rs->text, rs->fields for an object). Returns 0, or the
 * input's -errno (not -EBADMSG, which ends the stream with one skipped record). */
int qry__records_next(struct qry__records *rs, enum qry__rec *what);
void qry__records_release(struct qry__records *rs);
/* The first top-level member of the current record whose key is name[0..len), or NULL.
 * Borrowed until the next qry__records_next(). */
const struct qry__field *qry__record_get(const struct qry__records *rs, const char *name,
                                         size_t len);

enum qry__scan {
    QRY__SCAN_OK = 0,           /* a whole value: *len bytes */
    QRY__SCAN_MORE,             /* the bytes end inside the value (or may extend it) */
    QRY__SCAN_BAD,              /* not JSON; *len is where that was found */
};

/* Scans the one JSON value at p[0..n) (p[0] its first byte: no whitespace before it); eof
 * says that no byte follows p[n - 1]. Allocates nothing. */
enum qry__scan qry__json_scan(const char *p, size_t n, bool eof, size_t *len);
/* The bytes of p[0..n), a string's inside or a key as stored, with JSON escapes decoded
 * (surrogate pairs made UTF-8); owned by the caller (free()), NUL-terminated, *out_len long.
 * p must have passed the scanner. */
char *qry__json_unescape(const char *p, size_t n, size_t *out_len);

/* ---- json.c ---- */

/* Appends s[0..n) as a JSON string: quotes, escapes, and U+FFFD for each byte that is not
 * part of valid UTF-8. Returns 0 or -E2BIG (b's maximum). */
int qry__json_string(struct buf *b, const char *s, size_t n);
/* Appends d as a JSON number (the shortest text that reads back as d, with ".0" when it would
 * read as an integer), or null when d is not finite. */
int qry__json_real(struct buf *b, double d);

/* ---- archive.c ---- */

/* What qry__infer() samples of each literal call (archive.c's head says how). */
#define QRY__INFER_OBJECTS 16
#define QRY__INFER_RECORDS 100
#define QRY__INFER_BYTES (1024u * 1024)
#define QRY__COLUMNS_MAX 256        /* inferred columns */
#define QRY__NAME_MAX 255           /* bytes of a key that becomes a column */
#define QRY__NAMED_COLUMNS_MAX 64   /* columns a query may add by naming them (engine.c) */

/* One query's state, shared by the engine and the virtual table (which gets it as its module's
 * client data). Lives on the stack of qry_run(); only the thread running the query touches it,
 * except *cancel. */
struct qry__run {
    struct s3 *s3;                  /* borrowed */
    uint64_t deadline_ns;           /* http_now_ns() clock */
    const atomic_bool *cancel;      /* borrowed, may be NULL */
    int stop_rc;                    /* QRY_ETIMEOUT or QRY_ECANCELLED once either was seen */
    int scan_rc;                    /* QRY_ENOBUCKET or QRY_EIO of the first failed scan */
    char scan_msg[512];
    int denied;                     /* the last action the authorizer refused (0: none) */
    char **cols;                    /* owned: the inferred columns, in first-seen order */
    size_t *col_lens;               /* owned: their lengths */
    size_t n_cols;
    uint64_t objects;               /* objects opened by scans */
    uint64_t records;               /* JSON objects read by scans (rows offered to SQLite) */
    uint64_t skipped;               /* records skipped by scans */
};

/* True once the deadline passed or *cancel was set (and from then on); sets stop_rc. */
bool qry__run_stopped(struct qry__run *run);
/* Makes the name (len bytes, borrowed) a column of the archive table, as a key the sample
 * did not see. Returns false when it cannot be one (reserved, too long, the column limit) or
 * already is. */
bool qry__add_named_column(struct qry__run *run, const char *name, size_t len);
/* Adds the columns of the records sampled under bucket and prefix to run->cols. Returns 0,
 * QRY_ENOBUCKET or QRY_EIO (run->scan_msg says more), or run->stop_rc. */
int qry__infer(struct qry__run *run, const char *bucket, const char *prefix);
/* Registers the archive module on db with run as its state. Returns an SQLite code. */
int qry__archive_register(sqlite3 *db, struct qry__run *run);
void qry__run_release(struct qry__run *run);

#endif
