/*
 * attr.h: DynamoDB attribute values inside src/dynamodb/ (R2): numbers, base64, the binary
 * item encoding and the order-preserving key encoding. Folder-private; never included from
 * outside. The formats are described once in docs/formats.md, "DynamoDB items" and
 * "DynamoDB item keys".
 *
 * What it is: pure functions over bytes and jansson trees; no store, no HTTP. Everything here
 * may run on any thread.
 *
 * Invariants: an encoded item is canonical: attribute and map member names are sorted
 * bytewise, numbers are normalised, set members are sorted and unique, so two items are equal
 * exactly when their encodings are equal bytes. Decoders check every length against the
 * bytes they were given and fail (never read past the end) on damaged input.
 */
#ifndef SL_DYNAMODB_ATTR_H
#define SL_DYNAMODB_ATTR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/jdoc.h"
#include "core/mem.h"
#include "core/str.h"

/* DynamoDB's limits ("Service, account, and table quotas"; "Supported data types"). */
#define DDB_NUM_DIGITS 38
#define DDB_ITEM_MAX (400 * 1024)
#define DDB_DEPTH_MAX 32
#define DDB_PK_MAX 2048
#define DDB_SK_MAX 1024

/* The longest canonical number text: "-0." + 129 zeros + 38 digits, plus a NUL. */
#define DDB_NUM_TEXT_MAX 176
/* The longest number key: sign and exponent bytes + 38 digit nibbles and a terminator. */
#define DDB_NUM_KEY_MAX 22

/* Encoded items are bounded by the item size limit plus their framing (a few bytes per
 * value); this is the cap given to the buffers that hold them (R21). */
#define DDB_ITEM_ENC_MAX (2 * 1024 * 1024)

/*
 * A number as DynamoDB keeps it: exact decimal, value = sign * 0.d1d2...dn * 10^exp, digits
 * without leading or trailing zeros (n == 0 and exp == 0 for zero), at most 38 of them,
 * magnitude from 1E-130 to below 1E+126, so exp is in -129..126.
 */
struct ddb_num {
    int sign;                       /* -1, 0, +1 */
    int exp;
    unsigned char ndigits;
    char digits[DDB_NUM_DIGITS];    /* ASCII, digits[0] != '0', digits[n - 1] != '0' */
};

/* Why a number was refused; ddb_num_strerror() gives DynamoDB's message for each. */
enum ddb_num_err {
    DDB_NUM_EMPTY = 1,      /* "" */
    DDB_NUM_SYNTAX,         /* not a number: the message is followed by ": <text>" */
    DDB_NUM_OVERFLOW,       /* magnitude >= 1E+126 */
    DDB_NUM_UNDERFLOW,      /* 0 < magnitude < 1E-130 */
    DDB_NUM_PRECISION,      /* more than 38 significant digits */
};

/*
 * Parses DynamoDB's number syntax: an optional sign, digits with at most one '.', an optional
 * exponent (e or E, optional sign, digits). Returns 0, or -enum ddb_num_err.
 */
int ddb_num_parse(const char *s, size_t len, struct ddb_num *out);
/* DynamoDB's message for a -enum ddb_num_err code (static text). */
const char *ddb_num_strerror(int rc);
/* Writes the canonical text DynamoDB returns ("1.5", "1000", "0.001", "-2", "0"), never in
 * exponent notation, NUL-terminated. Returns the length; out needs DDB_NUM_TEXT_MAX bytes. */
size_t ddb_num_format(const struct ddb_num *n, char *out);
/* Total order of numbers: <0, 0, >0. */
int ddb_num_cmp(const struct ddb_num *a, const struct ddb_num *b);
/* Order-preserving, prefix-free bytes (memcmp order == numeric order). Returns the length;
 * out needs DDB_NUM_KEY_MAX bytes. */
size_t ddb_num_key(const struct ddb_num *n, unsigned char *out);
/* DynamoDB's size of the number in bytes ("Item sizes and formats"). */
size_t ddb_num_size(const struct ddb_num *n);

/* Attribute type tags of the binary encoding (docs/formats.md, "DynamoDB items"). */
enum ddb_type {
    DDB_S = 1, DDB_N, DDB_B, DDB_BOOL, DDB_NULL, DDB_L, DDB_M, DDB_SS, DDB_NS, DDB_BS,
};

/* The API's name of a type tag ("S", "NS", ...), or "?" for a bad tag. */
const char *ddb_type_name(int type);

/* Why an encode failed: the two error types DynamoDB answers bad attribute values with. */
enum ddb_err_kind {
    DDB_ERR_NONE = 0,
    DDB_ERR_VALIDATION,     /* ValidationException */
    DDB_ERR_SERIALIZATION,  /* SerializationException: a JSON type or base64 error */
};

struct ddb_err {
    enum ddb_err_kind kind;
    char msg[1024];         /* DynamoDB's message (long collections are cut short) */
};

/*
 * Encodes an item (a JSON object of AttributeValues, as the API carries it in Item or Key)
 * into the binary encoding, after checking it as DynamoDB does: first every JSON type and
 * base64 string (SerializationException), then every value (ValidationException: empty or
 * multi-typed values, NULL false, empty sets, duplicate set members, bad numbers, nesting
 * deeper than 32 levels, an item over 400 KB). Appends to out (a buf with a maximum; exceeding
 * it is reported as the item size error). a is scratch for sorting (freed with a). *size
 * receives DynamoDB's size of the item. Returns 0, or -1 with err filled in (out then holds
 * junk). item borrowed for the call.
 */
int ddb_item_encode(const json_t *item, struct arena *a, struct buf *out, size_t *size,
                    struct ddb_err *err);
/* The same from a jdoc tree. A tree from jd_parse() may hold a member name twice, which
 * jansson would have kept once: such an item is refused (with no words of DynamoDB's; the
 * caller asks jansson again). */
int ddb_item_encode_jd(const struct jd *item, struct arena *a, struct buf *out, size_t *size,
                       struct ddb_err *err);

/*
 * Reading an encoded item without decoding it: open the header, then step through the
 * top-level attributes in name order. Pointers point into the bytes given (borrowed for as
 * long as they are: for an item read from the store, until the read transaction ends).
 */
struct ddb_item_view {
    const unsigned char *p;     /* next attribute */
    const unsigned char *end;
    uint32_t size;              /* DynamoDB's size of the item */
    uint64_t count;             /* number of top-level attributes */
    uint64_t seen;              /* attributes stepped over so far */
};

struct ddb_attr {
    const char *name;
    size_t name_len;
    int type;                   /* enum ddb_type */
    const unsigned char *val;   /* S, N, B: the bytes (N: canonical text); BOOL: one byte 0/1;
                                   containers: the body after the byte length (count first) */
    size_t val_len;
};

/* Returns 0, or -EINVAL when the header is damaged. */
int ddb_item_open(const void *p, size_t n, struct ddb_item_view *v);
/* Returns 1 with *a filled, 0 at the end, -EINVAL when damaged. */
int ddb_item_next(struct ddb_item_view *v, struct ddb_attr *a);
/* Looks a top-level attribute up by name. Returns 1 found, 0 absent, -EINVAL damaged. */
int ddb_item_find(const void *p, size_t n, const char *name, size_t name_len,
                  struct ddb_attr *a);

/*
 * Writes an encoded item as the API's JSON text (an object of AttributeValues) to out: all
 * attributes, or only those named in only[0..n_only) when only is not NULL. Returns 0,
 * -EINVAL (damaged bytes) or -E2BIG (out's maximum).
 */
int ddb_item_write_json(const void *p, size_t n, const struct sl_str *only, size_t n_only,
                        struct buf *out);
/* The same as a new JSON object (owned by the caller), or NULL when the bytes are damaged. */
json_t *ddb_item_to_json(const void *p, size_t n, const struct sl_str *only, size_t n_only);

/*
 * Encodes one AttributeValue (as an attribute of an item: nesting counts from level 1) with
 * DynamoDB's checks: the type pass (SerializationException) then the value pass. Appends its
 * tag and body to out; *size receives DynamoDB's size of the value. Returns 0, or -1 with err
 * filled. ddb_value_types() runs the type pass alone (a holds the tree it reads). av borrowed
 * for the call.
 */
int ddb_value_encode(const json_t *av, struct arena *a, struct buf *out, size_t *size,
                     struct ddb_err *err);
int ddb_value_types(const json_t *av, struct arena *a, struct ddb_err *err);

/*
 * The readers of the encoding, for the expression evaluator (expr_value.c): each reads one
 * element at p, checking it against end, and returns the pointer after it, or NULL when the
 * bytes are damaged. A value is its tag and body (struct ddb_attr's val and val_len); a name
 * (and a set member) its varint length and bytes.
 */
const unsigned char *ddb_rd_varint(const unsigned char *p, const unsigned char *end,
                                   uint64_t *v);
const unsigned char *ddb_rd_value(const unsigned char *p, const unsigned char *end, int *type,
                                  const unsigned char **val, size_t *len);
const unsigned char *ddb_rd_name(const unsigned char *p, const unsigned char *end,
                                 const char **name, size_t *len);

/*
 * a + b (or a - b when negate_b), exactly. A result DynamoDB cannot store is refused with its
 * errors: -DDB_NUM_OVERFLOW for a magnitude of 1E+126 or more and also for a result that
 * needs more than 38 significant digits (DynamoDB answers "1E+50 + 1" with its overflow
 * message), -DDB_NUM_UNDERFLOW for a magnitude below 1E-130. Returns 0 or one of those.
 */
int ddb_num_add(const struct ddb_num *a, const struct ddb_num *b, bool negate_b,
                struct ddb_num *out);

/* DynamoDB's size of the value of one attribute as encoded (not counting its name), for
 * sizes of key subsets (stream records). Returns 0 for a damaged value. */
size_t ddb_attr_size(const struct ddb_attr *a);

/* Appends s to out as a JSON string (quoted, escaped). Returns 0 or -E2BIG. */
int ddb_json_string(struct buf *out, const char *s, size_t n);

/*
 * Key encoding (docs/formats.md, "DynamoDB item keys"). A string or binary key value is
 * written as its bytes with 0x00 escaped as 0x00 0xFF and a 0x00 0x01 terminator, so that no
 * encoding is a prefix of another and memcmp order is bytewise order; a number as
 * ddb_num_key(). Each returns the length written; out needs 2 * n + 2 bytes (strings,
 * binaries) or DDB_NUM_KEY_MAX (numbers).
 */
size_t ddb_key_bytes(const unsigned char *p, size_t n, unsigned char *out);

/* Base64 (B values), standard alphabet with padding. */
size_t ddb_b64_encoded_len(size_t n);
/* Writes ddb_b64_encoded_len(n) bytes (no NUL). */
void ddb_b64_encode(const unsigned char *in, size_t n, char *out);
/*
 * Checks a base64 string as DynamoDB's deserializer does. Returns 0, or -1 with the reason
 * DynamoDB gives after "'<value>' can not be converted to a Blob: " in why.
 */
int ddb_b64_check(const char *s, size_t n, char *why, size_t whylen);
/* Decodes a string that passed ddb_b64_check(); out needs n / 4 * 3 bytes. Returns the
 * decoded length. */
size_t ddb_b64_decode(const char *s, size_t n, unsigned char *out);

#endif
