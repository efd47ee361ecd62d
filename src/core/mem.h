/*
 * mem.h: allocation (R18), the request arena (R19) and bounded buffers (R21).
 *
 * xmalloc() and friends abort the process when memory is exhausted: the server cannot go on
 * sanely. A size a client controls must first pass an explicit limit and then go through
 * try_malloc(), whose NULL is answered with an AWS error.
 *
 * An arena hands out memory that lives until arena_clear(): a request's parse trees, decoded
 * items and response text all die together when MHD reports the request complete. Cleanups
 * registered on an arena (read transactions, file descriptors) run first, in reverse order.
 */
#ifndef SL_CORE_MEM_H
#define SL_CORE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A malloc'd copy of the n bytes at p (n may be 0; the result is never NULL). */
void *xmemdup(const void *p, size_t n);
void *try_malloc(size_t n);

struct arena_block;
struct arena_cleanup;

struct arena {
    struct arena_block *head;
    struct arena_cleanup *cleanups;
    size_t total;      /* bytes handed out, for limits */
};

void arena_init(struct arena *a);
/* Runs the cleanups, frees every block; the arena can be used again. */
void arena_clear(struct arena *a);
/* Returns 16-byte aligned memory valid until arena_clear(); aborts on OOM. */
void *arena_alloc(struct arena *a, size_t n);
void *arena_zalloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Registers fn(arg) to run at arena_clear(), before memory is freed. */
void arena_on_clear(struct arena *a, void (*fn)(void *), void *arg);

#define arena_new(a, type) ((type *)arena_zalloc((a), sizeof(type)))

/*
 * A growable byte buffer with a maximum (R21). Appending past max fails with -E2BIG and
 * leaves the buffer as it was. The bytes are kept NUL-terminated for convenience.
 */
struct buf {
    char *p;
    size_t len;
    size_t cap;
    size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n);
/* Appends n bytes the caller then fills in; returns a pointer to them (valid until the next
 * call that grows b), or NULL past the maximum (the buffer is then as it was). */
void *buf_reserve(struct buf *b, size_t n);
/* Makes room for n bytes in all without appending anything, so that appends up to that size
 * allocate no more. Returns 0, or -E2BIG when n is past the maximum (b is then as it was). */
int buf_presize(struct buf *b, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
/* Hands the bytes to the caller (free() them); the buffer is empty afterwards. */
char *buf_detach(struct buf *b, size_t *len);

#endif
