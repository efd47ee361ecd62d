/*
 * awserr.c: the table of awserr.h, expanded once.
 */
#include "core/awserr.h"

#include <stddef.h>

static const struct awserr_info table[AWSERR__COUNT] = {
    [AWSERR_NONE] = { 200, "", AWSERR_NS_SERVICE, NULL },
#define AWSERR_ROW(name, st, cd, nsp, m) [AWSERR_##name] = { st, cd, nsp, m },
    AWSERR_TABLE(AWSERR_ROW)
#undef AWSERR_ROW
};

const struct awserr_info *awserr_info(enum awserr e)
{
    if ((unsigned)e >= AWSERR__COUNT) {
        e = AWSERR_INTERNAL;
    }
    return &table[e];
}
