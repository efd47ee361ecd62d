/*
 * mem.c: allocation helpers, the arena and bounded buffers. See mem.h for the contracts.
 *
 * The arena is a list of blocks; an allocation larger than a quarter of the block size gets a
 * block of its own so that small allocations do not waste a large tail.
 */
#include "core/mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

static void oom(size_t n)
{
    log_error("mem", "out of memory allocating %zu bytes", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        oom(n);
    }
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        oom(n * size);
    }
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        oom(n);
    }
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *xmemdup(const void *p, size_t n)
{
    void *c = xmalloc(n ? n : 1);
    if (n) {
        memcpy(c, p, n);
    }
    return c;
}

void *try_malloc(size_t n)
{
    return malloc(n ? n : 1);
}

/* ---- arena ---- */

#define ARENA_BLOCK 8192

struct arena_block {
    struct arena_block *next;
    size_t used;
    size_t cap;
    _Alignas(16) unsigned char data[];
};

struct arena_cleanup {
    struct arena_cleanup *next;
    void (*fn)(void *);
    void *arg;
};

void arena_init(struct arena *a)
{
    a->head = NULL;
    a->cleanups = NULL;
    a->total = 0;
}

void arena_clear(struct arena *a)
{
    while (a->cleanups) {
        struct arena_cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->arg);
    }
    while (a->head) {
        struct arena_block *b = a->head;
        a->head = b->next;
        free(b);
    }
    a->total = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
    struct arena_block *b = a->head;
    n = (n + 15) & ~(size_t)15;
    if (n == 0) {
        n = 16;
    }
    a->total += n;
    if (n > ARENA_BLOCK / 4) {
        struct arena_block *big = xmalloc(sizeof *big + n);
        big->cap = n;
        big->used = n;
        if (b) {
            big->next = b->next;
            b->next = big;
        }
        else {
            big->next = NULL;
            a->head = big;
        }
        return big->data;
    }
    if (!b || b->cap - b->used < n) {
        b = xmalloc(sizeof *b + ARENA_BLOCK);
        b->cap = ARENA_BLOCK;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    b->used += n;
    return b->data + b->used - n;
}

void *arena_zalloc(struct arena *a, size_t n)
{
    void *p = arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
    }
    p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void arena_on_clear(struct arena *a, void (*fn)(void *), void *arg)
{
    struct arena_cleanup *c = arena_alloc(a, sizeof *c);
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
}

/* ---- buf ---- */

void buf_init(struct buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_release(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->p) {
        b->p[0] = '\0';
    }
}

void *buf_reserve(struct buf *b, size_t n)
{
    char *at;
    if (n > b->max || b->len > b->max - n) {
        return NULL;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        if (cap > b->max + 1) {
            cap = b->max + 1;
        }
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    at = b->p + b->len;
    b->len += n;
    b->p[b->len] = '\0';
    return at;
}

int buf_presize(struct buf *b, size_t n)
{
    if (n > b->max) {
        return -E2BIG;
    }
    if (n + 1 > b->cap) {
        b->p = xrealloc(b->p, n + 1);
        if (b->cap == 0) {
            b->p[0] = '\0';
        }
        b->cap = n + 1;
    }
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    char *at = buf_reserve(b, n);
    if (!at) {
        return -E2BIG;
    }
    if (n) {
        memcpy(at, p, n);
    }
    return 0;
}

int buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return -EINVAL;
    }
    if ((size_t)n < sizeof small) {
        return buf_append(b, small, (size_t)n);
    }
    {
        char *big = xmalloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        rc = buf_append(b, big, (size_t)n);
        free(big);
    }
    return rc;
}

char *buf_detach(struct buf *b, size_t *len)
{
    char *p = b->p;
    if (len) {
        *len = b->len;
    }
    if (!p) {
        p = xstrdup("");
    }
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}
