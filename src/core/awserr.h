/*
 * awserr.h: every error a client can be sent, in one X-macro table (R13).
 *
 * Each row: the enum name, the HTTP status, the AWS error code, where the JSON protocols'
 * `__type` namespace comes from, and the default message (NULL when AWS sends none). A
 * handler sets an error once, where the cause is known, with http_req_fail(r, AWSERR_X, ...);
 * the front door renders it in the protocol of the service: JSON `__type` + `message`, the
 * Lambda REST-JSON `x-amzn-ErrorType` header, or S3's XML `<Error><Code>`.
 *
 * Namespaces (what DynamoDB puts before '#' in `__type`, and clients strip):
 *   AWSERR_NS_CORAL     com.amazon.coral.service#   (authentication, serialization, unknown op)
 *   AWSERR_NS_VALIDATE  com.amazon.coral.validate#  (ValidationException)
 *   AWSERR_NS_SERVICE   the service's own, e.g. com.amazonaws.dynamodb.v20120810#
 * Messages are AWS's words where AWS's are known; they are printf formats when a row's users
 * pass arguments.
 */
#ifndef SL_CORE_AWSERR_H
#define SL_CORE_AWSERR_H

enum awserr_ns {
    AWSERR_NS_CORAL = 0,
    AWSERR_NS_VALIDATE = 1,
    AWSERR_NS_SERVICE = 2,
};

/* clang-format off */
#define AWSERR_TABLE(X)                                                                        \
    /* JSON services (DynamoDB, DynamoDB Streams, Firehose, Lambda) */                         \
    X(INTERNAL, 500, "InternalServerError", AWSERR_NS_SERVICE, "Internal server error")        \
    X(SERVICE_UNAVAILABLE, 503, "ServiceUnavailable", AWSERR_NS_CORAL,                         \
      "The service is shutting down; retry.")                                                  \
    X(UNKNOWN_OPERATION, 400, "UnknownOperationException", AWSERR_NS_CORAL, NULL)              \
    X(MISSING_AUTH, 400, "MissingAuthenticationTokenException", AWSERR_NS_CORAL,               \
      "Request is missing Authentication Token")                                               \
    X(UNRECOGNIZED_CLIENT, 400, "UnrecognizedClientException", AWSERR_NS_CORAL,                \
      "The security token included in the request is invalid.")                               \
    X(INVALID_SIGNATURE, 400, "InvalidSignatureException", AWSERR_NS_CORAL,                    \
      "The request signature we calculated does not match the signature you provided. "        \
      "Check your AWS Secret Access Key and signing method. "                                  \
      "Consult the service documentation for details.")                                        \
    X(INCOMPLETE_SIGNATURE, 400, "IncompleteSignatureException", AWSERR_NS_CORAL,              \
      "Authorization header requires 'Credential' parameter. Authorization header requires "   \
      "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. "       \
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")  \
    X(SERIALIZATION, 400, "SerializationException", AWSERR_NS_CORAL, "%s")                     \
    X(VALIDATION, 400, "ValidationException", AWSERR_NS_VALIDATE, "%s")                        \
    X(REQUEST_TOO_LARGE, 413, "RequestEntityTooLarge", AWSERR_NS_CORAL,                        \
      "Request entity too large")                           \
    X(RESOURCE_NOT_FOUND, 400, "ResourceNotFoundException", AWSERR_NS_SERVICE, "%s")           \
    X(RESOURCE_IN_USE, 400, "ResourceInUseException", AWSERR_NS_SERVICE, "%s")                 \
    X(LIMIT_EXCEEDED, 400, "LimitExceededException", AWSERR_NS_SERVICE, "%s")                  \
    X(INVALID_ARGUMENT, 400, "InvalidArgumentException", AWSERR_NS_SERVICE, "%s")              \
    X(EXPIRED_ITERATOR, 400, "ExpiredIteratorException", AWSERR_NS_SERVICE, "%s")              \
    X(TRIMMED_DATA, 400, "TrimmedDataAccessException", AWSERR_NS_SERVICE, "%s")                \
    X(CONDITIONAL_CHECK_FAILED, 400, "ConditionalCheckFailedException", AWSERR_NS_SERVICE,     \
      "The conditional request failed")                                                        \
    X(DUPLICATE_ITEM, 400, "DuplicateItemException", AWSERR_NS_SERVICE,                       \
      "Duplicate primary key exists in table")                                                 \
    X(ITEM_COLLECTION_SIZE, 400, "ItemCollectionSizeLimitExceededException", AWSERR_NS_SERVICE,  \
      "The total size of an item collection has exceeded the maximum limit of 10 gigabytes.")   \
    X(TRANSACTION_CANCELED, 400, "TransactionCanceledException", AWSERR_NS_SERVICE, "%s")     \
    X(IDEMPOTENT_MISMATCH, 400, "IdempotentParameterMismatchException", AWSERR_NS_SERVICE,     \
      "%s")                                                                                    \
    X(TRANSACTION_IN_PROGRESS, 400, "TransactionInProgressException", AWSERR_NS_SERVICE,       \
      "Transaction from previous request is still in progress")                              \
    /* Lambda (REST-JSON): codes and statuses of the Lambda API reference */                   \
    X(LAMBDA_NOT_FOUND, 404, "ResourceNotFoundException", AWSERR_NS_SERVICE, "%s")             \
    X(LAMBDA_CONFLICT, 409, "ResourceConflictException", AWSERR_NS_SERVICE, "%s")              \
    X(LAMBDA_INVALID_PARAMETER, 400, "InvalidParameterValueException", AWSERR_NS_SERVICE,      \
      "%s")                                                                                    \
    X(LAMBDA_INVALID_CONTENT, 400, "InvalidRequestContentException", AWSERR_NS_SERVICE, "%s")  \
    X(LAMBDA_TOO_LARGE, 413, "RequestEntityTooLargeException", AWSERR_NS_SERVICE, "%s")        \
    X(LAMBDA_PRECONDITION, 412, "PreconditionFailedException", AWSERR_NS_SERVICE, "%s")        \
    X(LAMBDA_TOO_MANY_REQUESTS, 429, "TooManyRequestsException", AWSERR_NS_SERVICE,            \
      "Rate Exceeded.")                                                                        \
    X(LAMBDA_SERVICE, 500, "ServiceException", AWSERR_NS_SERVICE, "%s")                        \
    X(LAMBDA_IN_USE, 400, "ResourceInUseException", AWSERR_NS_SERVICE, "%s")                   \
    /* Queries (POST /_sluice/query, sluice's own; SQLite's message where it has one) */       \
    X(QUERY_INVALID, 400, "InvalidQueryException", AWSERR_NS_SERVICE, "%s")                    \
    X(QUERY_TIMEOUT, 400, "QueryTimeoutException", AWSERR_NS_SERVICE, "%s")                    \
    X(QUERY_BUSY, 429, "TooManyRequestsException", AWSERR_NS_SERVICE, "%s")                    \
    /* S3 (REST-XML) */                                                                        \
    X(S3_INTERNAL, 500, "InternalError", AWSERR_NS_SERVICE,                                    \
      "We encountered an internal error. Please try again.")                                   \
    X(S3_ACCESS_DENIED, 403, "AccessDenied", AWSERR_NS_SERVICE, "Access Denied")               \
    X(S3_EXPIRED, 403, "AccessDenied", AWSERR_NS_SERVICE, "Request has expired")               \
    X(S3_INVALID_ACCESS_KEY, 403, "InvalidAccessKeyId", AWSERR_NS_SERVICE,                     \
      "The AWS Access Key Id you provided does not exist in our records.")                     \
    X(S3_SIGNATURE_MISMATCH, 403, "SignatureDoesNotMatch", AWSERR_NS_SERVICE,                  \
      "The request signature we calculated does not match the signature you provided. "        \
      "Check your key and signing method.")                                                    \
    X(S3_TIME_SKEWED, 403, "RequestTimeTooSkewed", AWSERR_NS_SERVICE,                          \
      "The difference between the request time and the current time is too large.")           \
    X(S3_AUTH_MALFORMED, 400, "AuthorizationHeaderMalformed", AWSERR_NS_SERVICE,               \
      "The authorization header is malformed; %s")                                             \
    X(S3_AUTH_QUERY_MALFORMED, 400, "AuthorizationQueryParametersError", AWSERR_NS_SERVICE,    \
      "%s")                                                                                    \
    X(S3_CONTENT_SHA_MISMATCH, 400, "XAmzContentSHA256Mismatch", AWSERR_NS_SERVICE,            \
      "The provided 'x-amz-content-sha256' header does not match what was computed.")          \
    X(S3_INVALID_ARGUMENT, 400, "InvalidArgument", AWSERR_NS_SERVICE, "%s")                    \
    X(S3_INVALID_REQUEST, 400, "InvalidRequest", AWSERR_NS_SERVICE, "%s")                      \
    X(S3_INCOMPLETE_BODY, 400, "IncompleteBody", AWSERR_NS_SERVICE,                            \
      "You did not provide the number of bytes specified by the Content-Length HTTP header")   \
    X(S3_ENTITY_TOO_LARGE, 400, "EntityTooLarge", AWSERR_NS_SERVICE,                           \
      "Your proposed upload exceeds the maximum allowed object size.")                         \
    X(S3_NOT_IMPLEMENTED, 501, "NotImplemented", AWSERR_NS_SERVICE,                            \
      "A header you provided implies functionality that is not implemented")                   \
    X(S3_METHOD_NOT_ALLOWED, 405, "MethodNotAllowed", AWSERR_NS_SERVICE,                       \
      "The specified method is not allowed against this resource.")                            \
    X(S3_SERVICE_UNAVAILABLE, 503, "ServiceUnavailable", AWSERR_NS_SERVICE,                    \
      "Please reduce your request rate.")                                                      \
    X(S3_NO_SUCH_BUCKET, 404, "NoSuchBucket", AWSERR_NS_SERVICE,                               \
      "The specified bucket does not exist")                                                   \
    X(S3_NO_SUCH_KEY, 404, "NoSuchKey", AWSERR_NS_SERVICE, "The specified key does not exist.") \
    X(S3_BUCKET_OWNED, 409, "BucketAlreadyOwnedByYou", AWSERR_NS_SERVICE,                      \
      "Your previous request to create the named bucket succeeded and you already own it.")    \
    X(S3_BUCKET_NOT_EMPTY, 409, "BucketNotEmpty", AWSERR_NS_SERVICE,                           \
      "The bucket you tried to delete is not empty")                                           \
    X(S3_INVALID_BUCKET_NAME, 400, "InvalidBucketName", AWSERR_NS_SERVICE,                     \
      "The specified bucket is not valid.")                                                    \
    X(S3_TOO_MANY_BUCKETS, 400, "TooManyBuckets", AWSERR_NS_SERVICE,                           \
      "You have attempted to create more buckets than allowed")                                \
    X(S3_KEY_TOO_LONG, 400, "KeyTooLongError", AWSERR_NS_SERVICE, "Your key is too long")      \
    X(S3_METADATA_TOO_LARGE, 400, "MetadataTooLarge", AWSERR_NS_SERVICE,                       \
      "Your metadata headers exceed the maximum allowed metadata size")                        \
    X(S3_BAD_DIGEST, 400, "BadDigest", AWSERR_NS_SERVICE,                                      \
      "The Content-MD5 you specified did not match what we received.")                         \
    X(S3_INVALID_DIGEST, 400, "InvalidDigest", AWSERR_NS_SERVICE,                              \
      "The Content-MD5 you specified is not valid.")                                           \
    X(S3_INVALID_RANGE, 416, "InvalidRange", AWSERR_NS_SERVICE,                                \
      "The requested range is not satisfiable")                                                \
    X(S3_MALFORMED_XML, 400, "MalformedXML", AWSERR_NS_SERVICE,                                \
      "The XML you provided was not well-formed or did not validate against our published "    \
      "schema")                                                                                \
    X(S3_MISSING_CONTENT_LENGTH, 411, "MissingContentLength", AWSERR_NS_SERVICE,               \
      "You must provide the Content-Length HTTP header.")                                      \
    X(S3_NOT_IMPLEMENTED_OP, 501, "NotImplemented", AWSERR_NS_SERVICE, "%s")                  \
    X(S3_PRECONDITION_FAILED, 412, "PreconditionFailed", AWSERR_NS_SERVICE,                    \
      "At least one of the pre-conditions you specified did not hold")                         \
    X(S3_NO_SUCH_UPLOAD, 404, "NoSuchUpload", AWSERR_NS_SERVICE,                               \
      "The specified upload does not exist. The upload ID may be invalid, or the upload may "  \
      "have been aborted or completed.")                                                       \
    X(S3_INVALID_PART, 400, "InvalidPart", AWSERR_NS_SERVICE,                                  \
      "One or more of the specified parts could not be found.  The part may not have been "    \
      "uploaded, or the specified entity tag may not match the part's entity tag.")            \
    X(S3_INVALID_PART_ORDER, 400, "InvalidPartOrder", AWSERR_NS_SERVICE,                       \
      "The list of parts was not in ascending order. Parts must be ordered by part number.")   \
    X(S3_ENTITY_TOO_SMALL, 400, "EntityTooSmall", AWSERR_NS_SERVICE,                           \
      "Your proposed upload is smaller than the minimum allowed object size.")                 \
    X(S3_INVALID_PART_NUMBER, 416, "InvalidPartNumber", AWSERR_NS_SERVICE,                     \
      "The requested partnumber is not satisfiable")                                           \
    X(S3_SLOW_DOWN, 503, "SlowDown", AWSERR_NS_SERVICE, "Please reduce your request rate.")    \
    X(S3_INVALID_TAG, 400, "InvalidTag", AWSERR_NS_SERVICE, "%s")                              \
    X(S3_BAD_REQUEST, 400, "BadRequest", AWSERR_NS_SERVICE,                                    \
      "%s")                                                                                    \
    X(S3_CORS_FORBIDDEN, 403, "AccessForbidden", AWSERR_NS_SERVICE,                            \
      "%s")                                                                                    \
    X(S3_NO_SUCH_CORS, 404, "NoSuchCORSConfiguration", AWSERR_NS_SERVICE,                      \
      "The CORS configuration does not exist")                                                 \
    X(S3_POLICY_DENIED, 403, "AccessDenied", AWSERR_NS_SERVICE,                                \
      "%s")                                                                                    \
    X(S3_ENTITY_TOO_SMALL_POST, 400, "EntityTooSmall", AWSERR_NS_SERVICE,                      \
      "Your proposed upload is smaller than the minimum allowed size")                         \
    X(S3_ENTITY_TOO_LARGE_POST, 400, "EntityTooLarge", AWSERR_NS_SERVICE,                      \
      "Your proposed upload exceeds the maximum allowed size")                                 \
    X(S3_MALFORMED_POST, 400, "MalformedPOSTRequest", AWSERR_NS_SERVICE,                       \
      "The body of your POST request is not well-formed multipart/form-data.")                 \
    X(S3_INVALID_POLICY, 400, "InvalidPolicyDocument", AWSERR_NS_SERVICE,                      \
      "%s")                                                                                    \
    X(S3_NO_SUCH_VERSION, 404, "NoSuchVersion", AWSERR_NS_SERVICE,                             \
      "The specified version does not exist.")                                                 \
    X(S3_NO_LOCK_CONFIG, 404, "ObjectLockConfigurationNotFoundError", AWSERR_NS_SERVICE,       \
      "Object Lock configuration does not exist for this bucket")                              \
    X(S3_NO_OBJECT_LOCK, 404, "NoSuchObjectLockConfiguration", AWSERR_NS_SERVICE,              \
      "The specified object does not have a ObjectLock configuration")                         \
    X(S3_INVALID_BUCKET_STATE, 409, "InvalidBucketState", AWSERR_NS_SERVICE,                   \
      "%s")                                                                                    \
    X(S3_NO_LIFECYCLE, 404, "NoSuchLifecycleConfiguration", AWSERR_NS_SERVICE,                 \
      "The lifecycle configuration does not exist")                                            \
    X(S3_NO_ENCRYPTION, 404, "ServerSideEncryptionConfigurationNotFoundError", AWSERR_NS_SERVICE,\
      "The server side encryption configuration was not found")                                \
    X(S3_MALFORMED_POLICY, 400, "MalformedPolicy", AWSERR_NS_SERVICE,                          \
      "%s")                                                                                    \
    X(S3_NO_POLICY, 404, "NoSuchBucketPolicy", AWSERR_NS_SERVICE,                              \
      "The bucket policy does not exist")                                                      \
    X(S3_INVALID_POLICY_SIZE, 400, "MalformedPolicy", AWSERR_NS_SERVICE,                       \
      "Policies must be less than 20 KB")                                                      \
    X(S3_BUCKET_EXISTS, 409, "BucketAlreadyExists", AWSERR_NS_SERVICE,                         \
      "The requested bucket name is not available. The bucket namespace is shared by "         \
      "all users of the system. Please select a different name and try again.")
/* clang-format on */

enum awserr {
    AWSERR_NONE = 0,
#define AWSERR_ENUM(name, status, code, ns, msg) AWSERR_##name,
    AWSERR_TABLE(AWSERR_ENUM)
#undef AWSERR_ENUM
        AWSERR__COUNT
};

struct awserr_info {
    unsigned status;
    const char *code;
    enum awserr_ns ns;
    const char *msg;  /* default message or printf format; NULL: AWS sends none */
};

/* The row of e (a static table). */
const struct awserr_info *awserr_info(enum awserr e);

#endif
