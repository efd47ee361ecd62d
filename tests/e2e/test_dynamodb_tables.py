"""The DynamoDB table catalog through boto3: CreateTable, DescribeTable, ListTables,
DeleteTable, and the validation errors DynamoDB answers with."""
import time

import pytest
from botocore.exceptions import ClientError

from conftest import raw

KEY = dict(KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
           AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
           BillingMode="PAY_PER_REQUEST")


def err(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def test_create_describe_delete(server):
    ddb = server.client("dynamodb")
    d = ddb.create_table(TableName="Invoices",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "N"}],
                         ProvisionedThroughput={"ReadCapacityUnits": 5,
                                                "WriteCapacityUnits": 7},
                         StreamSpecification={"StreamEnabled": True,
                                              "StreamViewType": "NEW_AND_OLD_IMAGES"})
    td = d["TableDescription"]
    assert td["TableName"] == "Invoices"
    assert td["TableArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/Invoices"
    assert td["LatestStreamArn"].startswith(td["TableArn"] + "/stream/")
    assert td["LatestStreamArn"].endswith(td["LatestStreamLabel"])
    assert td["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    ddb.get_waiter("table_exists").wait(TableName="Invoices",
                                        WaiterConfig={"Delay": 0.1, "MaxAttempts": 20})
    t = ddb.describe_table(TableName="Invoices")["Table"]
    assert t["TableStatus"] == "ACTIVE"
    assert t["ItemCount"] == 0
    assert t["KeySchema"][1] == {"AttributeName": "sk", "KeyType": "RANGE"}
    assert t["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert ddb.delete_table(TableName="Invoices")["TableDescription"]["TableStatus"] == \
        "DELETING"
    with pytest.raises(ClientError) as e:
        ddb.describe_table(TableName="Invoices")
    assert err(e) == ("ResourceNotFoundException",
                      "Requested resource not found: Table: Invoices not found")
    with pytest.raises(ClientError) as e:
        ddb.delete_table(TableName="Invoices")
    assert err(e)[0] == "ResourceNotFoundException"


def test_table_already_exists(server):
    ddb = server.client("dynamodb")
    ddb.create_table(TableName="dup", **KEY)
    with pytest.raises(ClientError) as e:
        ddb.create_table(TableName="dup", **KEY)
    assert err(e) == ("ResourceInUseException", "Table already exists: dup")


def test_list_tables_pagination(server):
    ddb = server.client("dynamodb")
    names = sorted("tbl-%02d" % i for i in range(23))
    for n in reversed(names):
        ddb.create_table(TableName=n, **KEY)
    seen, kw = [], {"Limit": 5}
    while True:
        page = ddb.list_tables(**kw)
        assert len(page["TableNames"]) <= 5
        seen += page["TableNames"]
        if "LastEvaluatedTableName" not in page:
            break
        kw["ExclusiveStartTableName"] = page["LastEvaluatedTableName"]
    assert seen == names
    # The paginator of the SDK walks the same pages.
    pages = ddb.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 7})
    assert [n for p in pages for n in p["TableNames"]] == names
    assert ddb.list_tables(ExclusiveStartTableName="tbl-20")["TableNames"] == \
        ["tbl-21", "tbl-22"]


@pytest.mark.parametrize("kwargs,code,message", [
    (dict(TableName="ab", **KEY), "ValidationException",
     "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: "
     "Member must have length greater than or equal to 3"),
    (dict(TableName="bad name!", **KEY), "ValidationException",
     "1 validation error detected: Value 'bad name!' at 'tableName' failed to satisfy "
     "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"),
    (dict(TableName="t1p", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}]),
     "ValidationException",
     "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits "
     "must both be specified when BillingMode is PROVISIONED"),
    (dict(TableName="t1x", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
          AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}],
          BillingMode="PAY_PER_REQUEST"),
     "ValidationException",
     "One or more parameter values were invalid: Some index key attributes are not defined "
     "in AttributeDefinitions. Keys: [k], AttributeDefinitions: [other]"),
    (dict(TableName="t1y", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"},
                                {"AttributeName": "x", "AttributeType": "S"}],
          BillingMode="PAY_PER_REQUEST"),
     "ValidationException",
     "One or more parameter values were invalid: Number of attributes in KeySchema does not "
     "exactly match number of attributes defined in AttributeDefinitions"),
    (dict(TableName="t1z", KeySchema=[{"AttributeName": "k", "KeyType": "RANGE"}],
          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
          BillingMode="PAY_PER_REQUEST"),
     "ValidationException",
     "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"),
    (dict(TableName="t2z", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "X"}],
          BillingMode="PAY_PER_REQUEST"),
     "ValidationException",
     "1 validation error detected: Value 'X' at 'attributeDefinitions.1.member.attributeType' "
     "failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]"),
])
def test_create_table_validation(server, kwargs, code, message):
    ddb = server.client("dynamodb", validate=False)
    with pytest.raises(ClientError) as e:
        ddb.create_table(**kwargs)
    assert err(e) == (code, message)


def test_list_tables_limit_validation(server):
    ddb = server.client("dynamodb", validate=False)
    with pytest.raises(ClientError) as e:
        ddb.list_tables(Limit=0)
    assert err(e) == ("ValidationException",
                      "1 validation error detected: Value '0' at 'limit' failed to satisfy "
                      "constraint: Member must have value greater than or equal to 1")


# ---- the whole TableDescription, table classes, tags, limits, endpoints ----

def test_describe_table_is_complete(server):
    ddb = server.client("dynamodb")
    ddb.create_table(TableName="full-ppr", **KEY)
    ddb.create_table(TableName="full-prov",
                     KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                     ProvisionedThroughput={"ReadCapacityUnits": 20000,
                                            "WriteCapacityUnits": 3})
    ddb.put_item(TableName="full-ppr", Item={"k": {"S": "a"}, "v": {"S": "xyz"}})
    # Raw, for the members this botocore does not know (DeletionProtectionEnabled,
    # WarmThroughput).
    status, body = raw(server, "DescribeTable", {"TableName": "full-ppr"})
    t = body["Table"]
    assert status == 200
    assert set(t) == {"AttributeDefinitions", "TableName", "KeySchema", "TableStatus",
                      "CreationDateTime", "ProvisionedThroughput", "TableSizeBytes",
                      "ItemCount", "TableArn", "TableId", "BillingModeSummary",
                      "DeletionProtectionEnabled", "WarmThroughput"}
    assert t["ItemCount"] == 1 and t["TableSizeBytes"] == 6
    assert len(t["TableId"]) == 36
    assert isinstance(t["CreationDateTime"], float)
    assert t["ProvisionedThroughput"] == {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0,
                                          "WriteCapacityUnits": 0}
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert "LastUpdateToPayPerRequestDateTime" in t["BillingModeSummary"]
    assert t["DeletionProtectionEnabled"] is False
    assert t["WarmThroughput"] == {"ReadUnitsPerSecond": 12000, "WriteUnitsPerSecond": 4000,
                                   "Status": "ACTIVE"}
    t = raw(server, "DescribeTable", {"TableName": "full-prov"})[1]["Table"]
    assert "BillingModeSummary" not in t
    assert t["WarmThroughput"] == {"ReadUnitsPerSecond": 20000, "WriteUnitsPerSecond": 4000,
                                   "Status": "ACTIVE"}


def test_table_class(server):
    ddb = server.client("dynamodb")
    td = ddb.create_table(TableName="ia-table", TableClass="STANDARD_INFREQUENT_ACCESS",
                          **KEY)["TableDescription"]
    assert td["TableClassSummary"] == {"TableClass": "STANDARD_INFREQUENT_ACCESS"}
    assert "TableClassSummary" not in ddb.create_table(TableName="plain-table",
                                                       **KEY)["TableDescription"]
    t = ddb.update_table(TableName="ia-table", TableClass="STANDARD")["TableDescription"]
    assert t["TableClassSummary"]["TableClass"] == "STANDARD"
    assert "LastUpdateDateTime" in t["TableClassSummary"]
    t = ddb.describe_table(TableName="ia-table")["Table"]
    assert t["TableClassSummary"]["TableClass"] == "STANDARD"
    bad = ("ValidationException",
           "Invalid table-class parameter provided. Please try again with a valid table-class "
           "value: [STANDARD, STANDARD_INFREQUENT_ACCESS].")
    status, body = raw(server, "CreateTable", dict(TableName="bad-class", TableClass="COLD",
                                                   **KEY))
    assert (status, body["__type"].split("#")[-1], body["message"]) == (400,) + bad
    status, body = raw(server, "UpdateTable", {"TableName": "ia-table", "TableClass": "COLD"})
    assert (body["__type"].split("#")[-1], body["message"]) == bad
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName="ia-table", TableClass="STANDARD",
                         BillingMode="PAY_PER_REQUEST")
    assert err(e) == ("ValidationException",
                      "One or more parameter values were invalid: TableClass modification must "
                      "be the only operation in the request")
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName="missing-class", TableClass="STANDARD")
    assert err(e) == ("ResourceNotFoundException",
                      "Requested resource not found: Table: missing-class not found")


ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/"


def test_tags(server):
    ddb = server.client("dynamodb")
    ddb.create_table(TableName="tagged", Tags=[{"Key": "env", "Value": "test"},
                                               {"Key": "team", "Value": "data"}], **KEY)
    arn = ARN + "tagged"
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "env", "Value": "test"}, {"Key": "team", "Value": "data"}]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "prod"},
                                            {"Key": "cost center", "Value": "a+b=c/d@e:f_g.h"},
                                            {"Key": "empty", "Value": ""}])
    got = ddb.list_tags_of_resource(ResourceArn=arn)
    assert got["Tags"] == [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "data"},
                           {"Key": "cost center", "Value": "a+b=c/d@e:f_g.h"},
                           {"Key": "empty", "Value": ""}]
    assert "NextToken" not in got
    # NextToken is accepted as DynamoDB accepts it (a String without constraints, for a
    # pagination the service does not do: its at most 50 tags are one page): any string
    # gets the one page, without a NextToken; another JSON type is refused by the
    # deserialiser; the ARN is still checked.
    for token in ["", "abc", "x" * 2000]:
        page = ddb.list_tags_of_resource(ResourceArn=arn, NextToken=token)
        assert page["Tags"] == got["Tags"]
        assert "NextToken" not in page
    status, body = raw(server, "ListTagsOfResource", {"ResourceArn": arn, "NextToken": 5})
    assert status == 400 and body["__type"].endswith("#SerializationException")
    with pytest.raises(ClientError) as e:
        ddb.list_tags_of_resource(ResourceArn=ARN + "no-such", NextToken="abc")
    assert err(e) == ("ResourceNotFoundException", "Requested resource not found: ResourcArn: "
                      + ARN + "no-such not found")
    ddb.untag_resource(ResourceArn=arn, TagKeys=["team", "not-there"])
    assert [t["Key"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]] == \
        ["env", "cost center", "empty"]
    # Tags are not part of DescribeTable.
    assert "Tags" not in ddb.describe_table(TableName="tagged")["Table"]
    ddb.create_table(TableName="untagged", **KEY)
    assert ddb.list_tags_of_resource(ResourceArn=ARN + "untagged")["Tags"] == []

    # 50 at most, counting the tags already there.
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "k%02d" % i, "Value": "v"}
                                            for i in range(47)])
    with pytest.raises(ClientError) as e:
        ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "one-more", "Value": "v"}])
    assert err(e) == ("ValidationException",
                      "Number of Tags exceed the current limit for the provided ResourceArn")
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "replaced not added"}])
    assert len(ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]) == 50
    with pytest.raises(ClientError) as e:
        ddb.create_table(TableName="too-many-tags",
                         Tags=[{"Key": "k%02d" % i, "Value": "v"} for i in range(51)], **KEY)
    assert err(e) == ("ValidationException",
                      "Number of Tags exceed the current limit for the provided ResourceArn")


def test_tag_errors(server):
    ddb = server.client("dynamodb", validate=False)
    ddb.create_table(TableName="tag-errs", **KEY)
    arn = ARN + "tag-errs"

    def refused(op, code, msg, **kw):
        with pytest.raises(ClientError) as e:
            getattr(ddb, op)(**kw)
        assert err(e) == (code, msg)

    refused("tag_resource", "ValidationException", "The Tag Key provided is invalid, Key: a*b",
            ResourceArn=arn, Tags=[{"Key": "a*b", "Value": "v"}])
    refused("tag_resource", "ValidationException",
            "The Tag Value provided is invalid, Value: v#", ResourceArn=arn,
            Tags=[{"Key": "k", "Value": "v#"}])
    refused("tag_resource", "ValidationException",
            "Tag Key cannot be prefixed with aws:, Key: aws:x", ResourceArn=arn,
            Tags=[{"Key": "aws:x", "Value": "v"}])
    refused("tag_resource", "ValidationException",
            "Duplicate Tag Keys provided as input: Duplicate Tag Key found k", ResourceArn=arn,
            Tags=[{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}])
    refused("tag_resource", "ValidationException",
            "Atleast one Tag needs to be provided as Input.", ResourceArn=arn, Tags=[])
    refused("untag_resource", "ValidationException",
            "Atleast one Tag Key needs to be provided as Input.", ResourceArn=arn, TagKeys=[])
    refused("tag_resource", "ValidationException",
            "1 validation error detected: Value '%s' at 'tags.1.member.key' failed to satisfy "
            "constraint: Member must have length less than or equal to 128" % ("k" * 129),
            ResourceArn=arn, Tags=[{"Key": "k" * 129, "Value": "v"}])
    refused("tag_resource", "ValidationException",
            "1 validation error detected: Value null at 'tags.1.member.value' failed to "
            "satisfy constraint: Member must not be null", ResourceArn=arn, Tags=[{"Key": "k"}])
    refused("tag_resource", "ValidationException",
            "1 validation error detected: Value null at 'tags' failed to satisfy constraint: "
            "Member must not be null", ResourceArn=arn)
    refused("list_tags_of_resource", "ResourceNotFoundException",
            "Requested resource not found: ResourcArn: %snope not found" % ARN,
            ResourceArn=ARN + "nope")
    refused("tag_resource", "ResourceNotFoundException",
            "Requested resource not found: ResourcArn: %snope not found" % ARN,
            ResourceArn=ARN + "nope", Tags=[{"Key": "k", "Value": "v"}])
    refused("list_tags_of_resource", "ValidationException",
            "One or more parameter values were invalid: ARNs must start with 'arn:': tag-errs",
            ResourceArn="tag-errs")
    refused("list_tags_of_resource", "ValidationException",
            "One or more parameter values were invalid: Provided Arn is not a DynamoDB resource "
            "arn: arn:aws:s3:::bucket", ResourceArn="arn:aws:s3:::bucket")
    refused("list_tags_of_resource", "ValidationException",
            "Invalid TableArn: Invalid ResourceArn provided as input "
            "arn:aws:dynamodb:eu-west-1:000000000000:table/tag-errs",
            ResourceArn="arn:aws:dynamodb:eu-west-1:000000000000:table/tag-errs")
    refused("list_tags_of_resource", "ValidationException",
            "One or more parameter values were invalid: Invalid resource arn provided, only "
            "table or stream is accepted. Provided resource arn: %stag-errs/index/i" % ARN,
            ResourceArn=ARN + "tag-errs/index/i")
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == []


def test_describe_limits_and_endpoints(server):
    ddb = server.client("dynamodb")
    lim = ddb.describe_limits()
    del lim["ResponseMetadata"]
    assert lim == {"AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
                   "TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000}
    ep = ddb.describe_endpoints()["Endpoints"]
    assert ep == [{"Address": "127.0.0.1:%d" % server.port, "CachePeriodInMinutes": 1440}]


def test_long_lists_are_answered_quickly(server):
    """Checks over a request's lists take one pass: a body of many tags or index updates is
    refused at once, not after comparing every pair."""
    ddb = server.client("dynamodb")
    ddb.create_table(TableName="long-lists", **KEY)
    t0 = time.time()
    status, body = raw(server, "TagResource", {
        "ResourceArn": ARN + "long-lists",
        "Tags": [{"Key": "k%06d" % i, "Value": "v"} for i in range(60000)]})
    assert (status, body["message"]) == (
        400, "Number of Tags exceed the current limit for the provided ResourceArn")
    status, body = raw(server, "UpdateTable", {
        "TableName": "long-lists",
        "GlobalSecondaryIndexUpdates": [
            {"Update": {"IndexName": "ix%06d" % i, "ProvisionedThroughput": {
                "ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}} for i in range(60000)]})
    assert status == 400
    assert body["message"] == ("Requested resource not found: Index ix000000 for table "
                               "long-lists")
    assert time.time() - t0 < 10
