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
/* HMAC-SHA256 under a signing key (32 bytes), with a per-thread context that stays keyed
 * with the thread's last signing key, so that a repeated key skips the HMAC key set-up. */
void sigv4__hmac_signing(const unsigned char key[32], const void *msg, size_t n,
                         unsigned char out[32]);
/* Writes "<date>/<region>/<service>/aws4_request" into out (160 bytes; the parts are at most
 * 8, 32 and 32 bytes, as struct sigv4_auth holds them). */
void sigv4__scope(char out[160], const char *date, const char *region, const char *service);
/* Parses an X-Amz-Date value. Returns 0 or -1. */
int sigv4__parse_amz_date(const char *s, time_t *out);

#endif
