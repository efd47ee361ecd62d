/*
 * account.c: the account-wide DynamoDB operations that read no table: DescribeLimits and
 * DescribeEndpoints.
 *
 * What it is: constant answers in the API reference's shapes. DescribeLimits gives the
 * default quotas of a region ("Service, account, and table quotas": 80,000 read and write
 * capacity units an account, 40,000 a table); sluice enforces none of them, it only answers
 * what a client sizing its tables asks. DescribeEndpoints names the endpoint the client
 * reached (its Host header), so that an SDK doing endpoint discovery stays on this server,
 * cached for 1440 minutes as DynamoDB answers.
 *
 * What it is not: quota enforcement; regional endpoints.
 */
#include <stdio.h>
#include <string.h>

#include "dynamodb/ddb_int.h"

int ddb_describe_limits(struct http_req *r)
{
    return http_reply_json(r, json_pack("{s:i, s:i, s:i, s:i}", "AccountMaxReadCapacityUnits",
                                        80000, "AccountMaxWriteCapacityUnits", 80000,
                                        "TableMaxReadCapacityUnits", 40000,
                                        "TableMaxWriteCapacityUnits", 40000));
}

int ddb_describe_endpoints(struct http_req *r)
{
    struct ddb *d = ddb__of(r);
    const char *host = http_req_header(r, "Host");
    char fallback[64];

    if (!host || !*host) {
        snprintf(fallback, sizeof fallback, "dynamodb.%s.amazonaws.com", d->region);
        host = fallback;
    }
    return http_reply_json(r, json_pack("{s:[{s:s, s:i}]}", "Endpoints", "Address", host,
                                        "CachePeriodInMinutes", 1440));
}
