/*
 * input.c: the decoded bytes of one archived object, plain or gzip (see qry_int.h for the
 * states).
 *
 * Gzip is recognised by its magic bytes, not by the key's ".gz": Firehose names its GZIP
 * objects so, but an object put by hand may be either way. It is inflated as a stream through
 * a fixed buffer of compressed bytes, so an object larger than memory costs QRY__CHUNK plus
 * zlib's window. A file of several members (what `cat a.gz b.gz` makes, and what an appending
 * writer produces) decodes to the concatenation of their data, as gunzip does.
 *
 * What it is not: a gzip validator beyond what zlib checks (header, CRC32 and length of each
 * member). Bytes after a member that do not start another member make the stream CORRUPT,
 * where gunzip would warn about "trailing garbage": the caller counts that as a skipped
 * record rather than dropping it silently.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "query/qry_int.h"

void qry__input_init(struct qry__input *in, qry__read_fn fn, void *ctx, size_t chunk)
{
    memset(in, 0, sizeof *in);
    in->read = fn;
    in->ctx = ctx;
    in->in_cap = chunk ? chunk : QRY__CHUNK;
    if (in->in_cap < 2) {
        in->in_cap = 2;     /* the magic must fit */
    }
    in->in = xmalloc(in->in_cap);
}

void qry__input_release(struct qry__input *in)
{
    if (in->z_live) {
        inflateEnd(&in->z);
    }
    free(in->in);
    memset(in, 0, sizeof *in);
}

int qry__fd_read(void *ctx, void *dst, size_t cap, size_t *got)
{
    int fd = *(int *)ctx;
    ssize_t n;

    do {
        n = read(fd, dst, cap);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -errno;
    }
    *got = (size_t)n;
    return 0;
}

/* Reads more compressed (or plain) bytes after the ones not yet used. Returns 0 or -errno;
 * at the source's end sets raw_eof. */
static int fill(struct qry__input *in)
{
    size_t got = 0;
    int rc;

    if (in->in_pos > 0) {
        memmove(in->in, in->in + in->in_pos, in->in_len - in->in_pos);
        in->in_len -= in->in_pos;
        in->in_pos = 0;
    }
    if (in->in_len == in->in_cap || in->raw_eof) {
        return 0;
    }
    rc = in->read(in->ctx, in->in + in->in_len, in->in_cap - in->in_len, &got);
    if (rc < 0) {
        return rc;
    }
    if (got == 0) {
        in->raw_eof = true;
    }
    in->in_len += got;
    in->raw_bytes += got;
    return 0;
}

/* Looks at the first two bytes (or fewer, for a tiny object). Returns 0 or -errno. */
static int start(struct qry__input *in)
{
    while (in->in_len < 2 && !in->raw_eof) {
        int rc = fill(in);
        if (rc < 0) {
            return rc;
        }
    }
    in->started = true;
    in->gzip = in->in_len >= 2 && in->in[0] == 0x1f && in->in[1] == 0x8b;
    if (in->gzip) {
        memset(&in->z, 0, sizeof in->z);
        /* 16 + 15: a gzip wrapper (not zlib's), the largest window. */
        if (inflateInit2(&in->z, 16 + MAX_WBITS) != Z_OK) {
            return -ENOMEM;
        }
        in->z_live = true;
    }
    return 0;
}

static int read_plain(struct qry__input *in, void *dst, size_t cap, size_t *got)
{
    if (in->in_pos < in->in_len) {
        size_t n = in->in_len - in->in_pos;
        if (n > cap) {
            n = cap;
        }
        memcpy(dst, in->in + in->in_pos, n);
        in->in_pos += n;
        *got = n;
        return 0;
    }
    if (in->raw_eof) {
        in->end = true;
        return 0;
    }
    /* The bytes go straight to the caller's buffer: no copy for plain objects. */
    {
        int rc = in->read(in->ctx, dst, cap, got);
        if (rc < 0) {
            return rc;
        }
        in->raw_bytes += *got;
        if (*got == 0) {
            in->raw_eof = true;
            in->end = true;
        }
        return 0;
    }
}

/* After a member's end: is there another one? Returns 0 (and sets end when not), -EBADMSG for
 * bytes that do not start a member, or -errno. */
static int next_member(struct qry__input *in)
{
    while (in->in_len - in->in_pos < 2 && !in->raw_eof) {
        int rc = fill(in);
        if (rc < 0) {
            return rc;
        }
    }
    if (in->in_pos == in->in_len) {
        in->end = true;
        return 0;
    }
    if (in->in_len - in->in_pos < 2 || in->in[in->in_pos] != 0x1f ||
        in->in[in->in_pos + 1] != 0x8b) {
        return -EBADMSG;
    }
    if (inflateReset(&in->z) != Z_OK) {
        return -EBADMSG;
    }
    in->member_end = false;
    return 0;
}

static int read_gzip(struct qry__input *in, void *dst, size_t cap, size_t *got)
{
    *got = 0;
    while (*got == 0) {
        int zrc, rc;
        size_t before;

        if (in->member_end) {
            rc = next_member(in);
            if (rc < 0 || in->end) {
                return rc;
            }
        }
        if (in->in_pos == in->in_len) {
            if (in->raw_eof) {
                return -EBADMSG;    /* the member was cut short */
            }
            rc = fill(in);
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        before = in->in_len - in->in_pos;
        in->z.next_in = in->in + in->in_pos;
        in->z.avail_in = (uInt)before;
        in->z.next_out = dst;
        in->z.avail_out = (uInt)(cap > UINT32_MAX ? UINT32_MAX : cap);
        zrc = inflate(&in->z, Z_NO_FLUSH);
        in->in_pos += before - in->z.avail_in;
        *got = (size_t)((unsigned char *)in->z.next_out - (unsigned char *)dst);
        if (zrc == Z_STREAM_END) {
            in->member_end = true;
        }
        else if (zrc == Z_BUF_ERROR) {
            /* No progress was possible with these bytes: more input is needed. */
            if (in->raw_eof && in->in_pos == in->in_len) {
                return *got ? 0 : -EBADMSG;
            }
            if (in->in_pos == 0 && in->in_len == in->in_cap) {
                return -EBADMSG;    /* a full buffer that zlib cannot use */
            }
            rc = fill(in);
            if (rc < 0) {
                return rc;
            }
        }
        else if (zrc != Z_OK) {
            return -EBADMSG;        /* Z_DATA_ERROR, Z_NEED_DICT, Z_MEM_ERROR */
        }
    }
    return 0;
}

int qry__input_read(struct qry__input *in, void *dst, size_t cap, size_t *got)
{
    int rc;

    *got = 0;
    if (in->corrupt) {
        return in->corrupt;
    }
    if (in->end || cap == 0) {
        return 0;
    }
    if (!in->started) {
        rc = start(in);
        if (rc < 0) {
            return rc;
        }
    }
    rc = in->gzip ? read_gzip(in, dst, cap, got) : read_plain(in, dst, cap, got);
    if (rc == -EBADMSG) {
        in->corrupt = rc;
        /* Bytes decoded in this very call are delivered; the error comes with the next. */
        if (*got) {
            return 0;
        }
    }
    return rc;
}
