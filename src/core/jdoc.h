/*
 * jdoc.h: a JSON text read into a tree in the request's arena, for the hot paths where a
 * jansson tree costs more than the work the request asks for (jansson allocates every value
 * and hashes every member name; a 300-byte PutItem body is some sixty allocations).
 *
 * The tree is read-only and lives until the arena is cleared. Objects keep their members in
 * the order sent and, unlike jansson, keep a name sent twice twice: a reader that needs
 * jansson's answer checks jd_names_unique() (jansson keeps the last one).
 *
 * jd_parse() accepts only texts jansson's json_loadb(JSON_DECODE_ANY) accepts, and reads
 * them to the same values; it refuses the rest without a reason: the caller then asks
 * jansson, whose words the error needs. (It also refuses one kind jansson takes: a NUL byte
 * right after a literal or a number, which jansson's look-ahead skips.) jd_of_json() builds
 * the same tree from a jansson value, so that one reader serves both.
 */
#ifndef SL_CORE_JDOC_H
#define SL_CORE_JDOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/mem.h"

enum jd_type {
    JD_NULL,
    JD_FALSE,
    JD_TRUE,
    JD_NUMBER,
    JD_STRING,
    JD_ARRAY,
    JD_OBJECT,
};

struct jd {
    enum jd_type type;
    const char *s;      /* JD_STRING: the decoded bytes, NUL-terminated; JD_NUMBER: its text */
    size_t len;         /* JD_STRING, JD_NUMBER: bytes of s; JD_ARRAY, JD_OBJECT: children */
    const char *key;    /* a member of an object: its name, decoded and NUL-terminated */
    size_t klen;
    struct jd *child;   /* JD_ARRAY, JD_OBJECT: the first element or member */
    struct jd *next;    /* the parent's next element or member */
};

/* Iterates x over the elements of an array or the members of an object. */
#define jd_foreach(parent, x) for ((x) = (parent)->child; (x); (x) = (x)->next)

/*
 * Reads the n bytes at p as one JSON value with optional whitespace around it. Returns its
 * tree, or NULL when the text is not JSON as jansson reads it (bad syntax, a string that is
 * not UTF-8 or holds \u0000, an integer past 64 bits, a real past double) or nests deeper
 * than max_depth arrays and objects.
 */
struct jd *jd_parse(const char *p, size_t n, size_t max_depth, struct arena *a);

/* The tree of a jansson value, members in jansson's iteration order. */
struct jd *jd_of_json(const json_t *v, struct arena *a);

/* An object's first member named name, or NULL (also when obj is NULL or not an object). */
const struct jd *jd_get(const struct jd *obj, const char *name);

/* True when no two members of obj have the same name. */
bool jd_names_unique(const struct jd *obj, struct arena *a);

static inline bool jd_is(const struct jd *v, enum jd_type t)
{
    return v && v->type == t;
}

#endif
