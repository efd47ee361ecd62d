/*
 * log.h: leveled logging to stderr (R35-R38).
 *
 * The macros check the level before any argument is formatted, so a debug line costs one
 * load and a branch when debug is off. A line reads
 *   2026-11-25T10:00:00.123Z warn  store: fsync failed: No space left on device
 * Components name themselves and their instance ("firehose[orders]"). Secrets never reach a
 * log line: callers pass access key ids, never secret keys or Authorization values.
 */
#ifndef SL_CORE_LOG_H
#define SL_CORE_LOG_H

#include <stdarg.h>

enum log_level {
    LOG_ERROR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
};

extern enum log_level log_threshold;

/* Parses "error", "warn", "info" or "debug". Returns 0, or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);

/* Formats and writes one line. Any thread; one write(2) per line. */
void log_write(enum log_level lvl, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_at(lvl, comp, ...)                                                                 \
    do {                                                                                       \
        if ((lvl) <= log_threshold) {                                                          \
            log_write((lvl), (comp), __VA_ARGS__);                                             \
        }                                                                                      \
    } while (0)

#define log_error(comp, ...) log_at(LOG_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...) log_at(LOG_WARN, comp, __VA_ARGS__)
#define log_info(comp, ...) log_at(LOG_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...) log_at(LOG_DEBUG, comp, __VA_ARGS__)

#endif
