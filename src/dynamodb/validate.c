/*
 * validate.c: request validation shared by the DynamoDB handlers, in DynamoDB's words.
 *
 * What it is: the two stages DynamoDB's front end runs before an operation sees a request.
 * First deserialisation: a member of the wrong JSON type is a SerializationException
 * (ddb__type_or_reply). Then the declared constraints of each member (null, length, pattern,
 * enum), collected into one "N validation error(s) detected: ..." ValidationException
 * (struct ddb_verr). The messages are the ones DynamoDB sends, as its Java front end words
 * them ("can not be converted to an String").
 *
 * What it is not: the checks that need the table (keys, streams), which the handlers run
 * after these.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dynamodb/ddb_int.h"

void ddb__verr_add(struct ddb_verr *v, const char *fmt, ...)
{
    va_list ap;
    int k;
    if (v->len >= sizeof v->msg - 1) {
        v->n++;
        return;
    }
    if (v->n++ > 0) {
        k = snprintf(v->msg + v->len, sizeof v->msg - v->len, "; ");
        v->len += (size_t)k < sizeof v->msg - v->len ? (size_t)k : sizeof v->msg - v->len - 1;
    }
    va_start(ap, fmt);
    k = vsnprintf(v->msg + v->len, sizeof v->msg - v->len, fmt, ap);
    va_end(ap);
    if (k > 0) {
        v->len += (size_t)k < sizeof v->msg - v->len ? (size_t)k : sizeof v->msg - v->len - 1;
    }
}

int ddb__verr_reply(struct http_req *r, struct ddb_verr *v)
{
    return http_req_fail(r, AWSERR_VALIDATION, "%d validation error%s detected: %s", v->n,
                         v->n == 1 ? "" : "s", v->msg);
}

static bool name_chars_ok(const char *s)
{
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

bool ddb__table_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= DDB_TABLE_NAME_MIN && n <= DDB_TABLE_NAME_MAX && name_chars_ok(s);
}

void ddb__check_table_name(struct ddb_verr *v, const json_t *val, const char *member)
{
    const char *s;
    size_t n;
    if (!val || json_is_null(val)) {
        ddb__verr_add(v, "Value null at '%s' failed to satisfy constraint: Member must not be "
                         "null",
                      member);
        return;
    }
    s = json_string_value(val);
    n = strlen(s);
    if (!name_chars_ok(s)) {
        ddb__verr_add(v,
                      "Value '%.300s' at '%s' failed to satisfy constraint: Member must satisfy "
                      "regular expression pattern: [a-zA-Z0-9_.-]+",
                      s, member);
    }
    if (n < DDB_TABLE_NAME_MIN) {
        ddb__verr_add(v,
                      "Value '%s' at '%s' failed to satisfy constraint: Member must have length "
                      "greater than or equal to %d",
                      s, member, DDB_TABLE_NAME_MIN);
    }
    if (n > DDB_TABLE_NAME_MAX) {
        ddb__verr_add(v,
                      "Value '%.300s' at '%s' failed to satisfy constraint: Member must have "
                      "length less than or equal to %d",
                      s, member, DDB_TABLE_NAME_MAX);
    }
}

int ddb__table_name_or_reply(struct http_req *r, const json_t *v, const char *member,
                             const char **out)
{
    struct ddb_verr ve = { 0 };
    if (ddb__type_or_reply(r, v, DDB_J_STRING) < 0) {
        return -1;
    }
    ddb__check_table_name(&ve, v, member);
    if (ve.n) {
        return ddb__verr_reply(r, &ve);
    }
    *out = json_string_value(v);
    return 0;
}

void ddb__check_enum(struct ddb_verr *v, const json_t *val, const char *member,
                     const char *const *set)
{
    const char *s = json_string_value(val);
    char list[512];
    size_t o = 0;
    if (!s) {
        return;
    }
    for (size_t i = 0; set[i]; i++) {
        if (strcmp(s, set[i]) == 0) {
            return;
        }
    }
    for (size_t i = 0; set[i] && o < sizeof list; i++) {
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", set[i]);
    }
    ddb__verr_add(v,
                  "Value '%.300s' at '%s' failed to satisfy constraint: Member must satisfy enum "
                  "value set: [%s]",
                  s, member, list);
}

int ddb__type_or_reply(struct http_req *r, const json_t *v, enum ddb_jtype t)
{
    static const char num[] = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber";
    static const char *const target[] = { "an String", "an Boolean", "an Integer",
                                          "an Long",   "",           "",
                                          "" };
    json_type jt;

    if (!v || json_is_null(v)) {
        return 0;
    }
    jt = json_typeof(v);
    switch (t) {
    case DDB_J_STRING:
    case DDB_J_BOOLEAN:
    case DDB_J_INTEGER:
    case DDB_J_LONG:
        if (jt == JSON_ARRAY) {
            return http_req_fail(r, AWSERR_SERIALIZATION, "Start of list found where not expected");
        }
        if (jt == JSON_OBJECT) {
            return http_req_fail(r, AWSERR_SERIALIZATION,
                                 "Start of structure or map found where not expected.");
        }
        if (t == DDB_J_STRING && jt == JSON_STRING) {
            return 0;
        }
        if (t == DDB_J_BOOLEAN && (jt == JSON_TRUE || jt == JSON_FALSE)) {
            return 0;
        }
        if (t == DDB_J_BOOLEAN && jt == JSON_STRING) {
            /* The deserialiser takes true/false, 1/0 and yes/no, in any case. */
            static const char *const ok[] = { "true", "false", "1", "0", "yes", "no" };
            for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
                if (strcasecmp(json_string_value(v), ok[i]) == 0) {
                    return 0;
                }
            }
            return http_req_fail(r, AWSERR_SERIALIZATION, "'%.200s' can not be converted to an "
                                 "Boolean", json_string_value(v));
        }
        if ((t == DDB_J_INTEGER || t == DDB_J_LONG) && (jt == JSON_INTEGER || jt == JSON_REAL)) {
            return 0;
        }
        if (jt == JSON_STRING) {
            return http_req_fail(r, AWSERR_SERIALIZATION,
                                 "class java.lang.String can not be converted to %s", target[t]);
        }
        if (jt == JSON_TRUE || jt == JSON_FALSE) {
            return http_req_fail(r, AWSERR_SERIALIZATION,
                                 "class java.lang.Boolean can not be converted to %s", target[t]);
        }
        return http_req_fail(r, AWSERR_SERIALIZATION, "%s can not be converted to %s", num,
                             target[t]);
    case DDB_J_MAP:
        if (jt == JSON_OBJECT) {
            return 0;
        }
        return http_req_fail(r, AWSERR_SERIALIZATION, "%s",
                             jt == JSON_ARRAY ? "Start of list found where not expected"
                                              : "Expected map or null");
    case DDB_J_LIST:
        if (jt == JSON_ARRAY) {
            return 0;
        }
        return http_req_fail(r, AWSERR_SERIALIZATION, "%s",
                             jt == JSON_OBJECT ? "Start of structure or map found where not "
                                                 "expected."
                                               : "Expected list or null");
    case DDB_J_STRUCT:
    default:
        if (jt == JSON_OBJECT) {
            return 0;
        }
        return http_req_fail(r, AWSERR_SERIALIZATION, "%s",
                             jt == JSON_ARRAY ? "Start of list found where not expected"
                                              : "Expected null");
    }
}

int ddb__attr_fail_or_reply(struct http_req *r, const struct ddb_err *err)
{
    return http_req_fail(r, err->kind == DDB_ERR_SERIALIZATION ? AWSERR_SERIALIZATION
                                                               : AWSERR_VALIDATION,
                         "%s", err->msg);
}
