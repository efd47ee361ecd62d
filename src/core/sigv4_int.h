/*
 * sigv4_int.h: primitives shared by sigv4.c and sigv4_chunked.c; not for other modules.
 */
#ifndef SL_CORE_SIGV4_INT_H
#define SL_CORE_SIGV4_INT_H

#include <stddef.h>
#include <time.h>

/* SHA-256 and HMAC-SHA256 with per-thread contexts. Any thread. */
void sigv4__sha256(const void *p, size_t n, unsigned char out[32]);
void sigv4__hmac(const void *key, size_t keylen, const void *msg, size_t n,
                 unsigned char out[32]);
/* Parses an X-Amz-Date value. Returns 0 or -1. */
int sigv4__parse_amz_date(const char *s, time_t *out);

#endif
