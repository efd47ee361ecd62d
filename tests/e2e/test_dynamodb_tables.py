"""The DynamoDB table catalog through boto3: CreateTable, DescribeTable, ListTables,
DeleteTable, and the validation errors DynamoDB answers with."""
import pytest
from botocore.exceptions import ClientError

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
