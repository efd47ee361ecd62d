"""DynamoDB PartiQL against a real `sluice serve`, driven with boto3: ExecuteStatement's
SELECT (Query when the WHERE pins the hash key, Scan otherwise, ORDER BY, Limit, NextToken
walked to the end, indexes, projections, parameters), INSERT, UPDATE and DELETE with their
PartiQL rules, BatchExecuteStatement's per-statement errors, and the validation errors in
DynamoDB's words. One server for the module."""
import botocore.exceptions
import pytest

from conftest import raw

N = 30          # items in partition "p" of table pqt (sk 0..N-1)


@pytest.fixture(scope="module")
def ddb(module_server):
    return module_server.client("dynamodb")


def error(fn, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def make_table(ddb, name, range_type="N", gsi=False):
    kw = {}
    attrs = [{"AttributeName": "pk", "AttributeType": "S"},
             {"AttributeName": "sk", "AttributeType": range_type}]
    if gsi:
        attrs.append({"AttributeName": "g", "AttributeType": "S"})
        kw["GlobalSecondaryIndexes"] = [{
            "IndexName": "byg", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                              {"AttributeName": "sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}]
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=attrs, **kw)


@pytest.fixture(scope="module")
def table(ddb):
    """Table pqt (pk S, sk N) with a global index byg on g: partition "p" with sk 0..N-1
    (g "even"/"odd"), and partition "q" with 3 items."""
    make_table(ddb, "pqt", gsi=True)
    for i in range(N):
        ddb.put_item(TableName="pqt", Item={"pk": {"S": "p"}, "sk": {"N": str(i)},
                                        "g": {"S": "odd" if i % 2 else "even"},
                                        "v": {"N": str(i * 10)},
                                        "m": {"M": {"x": {"N": str(i)}}}})
    for i in range(3):
        ddb.put_item(TableName="pqt", Item={"pk": {"S": "q"}, "sk": {"N": str(i)}})
    return "pqt"


def sks(items):
    return [int(i["sk"]["N"]) for i in items]


def walk(ddb, **kw):
    """Every page of a statement, following NextToken to the end."""
    items, pages = [], 0
    token = None
    while True:
        args = dict(kw)
        if token:
            args["NextToken"] = token
        out = ddb.execute_statement(**args)
        items += out["Items"]
        pages += 1
        token = out.get("NextToken")
        if not token:
            return items, pages
        assert "LastEvaluatedKey" in out
        assert pages < 1000


# ---- SELECT ----

def test_select_query_on_hash_key(ddb, table):
    out = ddb.execute_statement(Statement='SELECT * FROM "pqt" WHERE pk = \'p\'')
    assert sks(out["Items"]) == list(range(N))
    assert "NextToken" not in out
    assert out["Items"][3] == {"pk": {"S": "p"}, "sk": {"N": "3"}, "g": {"S": "odd"},
                               "v": {"N": "30"}, "m": {"M": {"x": {"N": "3"}}}}


def test_select_range_conditions_and_filter(ddb, table):
    def q(where):
        return sks(ddb.execute_statement(
            Statement='SELECT sk FROM pqt WHERE ' + where)["Items"])
    assert q("pk = 'p' AND sk BETWEEN 3 AND 6") == [3, 4, 5, 6]
    assert q("pk = 'p' AND sk > 26") == [27, 28, 29]
    assert q("sk < 2 AND pk = 'p'") == [0, 1]
    assert q("pk = 'p' AND sk >= 5 AND sk < 8") == [5, 6, 7]
    assert q("pk = 'p' AND v > 250") == [26, 27, 28, 29]
    assert q("pk = 'p' AND m.x = 4") == [4]
    assert q("pk = 'p' AND sk IN [1, 3, 99]") == [1, 3]
    assert q("pk = 'p' AND (sk = 1 OR sk = 2)") == [1, 2]
    assert q("pk = 'p' AND NOT sk > 1") == [0, 1]
    assert q("pk = 'p' AND sk = 2 AND v IS NOT MISSING") == [2]
    assert q("pk = 'p' AND nope IS MISSING AND sk < 1") == [0]
    assert q("pk = 'q' AND g IS MISSING") == [0, 1, 2]
    assert q("pk = 'p' AND sk < 3 AND g IS STRING") == [0, 1, 2]
    assert q("pk = 'p' AND begins_with(g, 'od') AND sk < 4") == [1, 3]
    assert q("pk = 'p' AND contains(g, 've') AND sk < 4") == [0, 2]
    assert q("pk = 'p' AND attribute_type(v, 'N') AND sk < 2") == [0, 1]
    assert q("pk = 'p' AND size(g) = 3 AND sk < 4") == [1, 3]
    assert q("pk = 'p' AND sk <> 0 AND sk < 3") == [1, 2]
    assert q("pk = 'nobody'") == []


def test_select_scan_without_hash_key(ddb, table):
    out = ddb.execute_statement(Statement="SELECT pk, sk FROM pqt WHERE sk = 1")
    assert sorted((i["pk"]["S"], i["sk"]["N"]) for i in out["Items"]) == [("p", "1"), ("q", "1")]
    items, _ = walk(ddb, Statement="SELECT * FROM pqt")
    assert len(items) == N + 3


def test_select_projection(ddb, table):
    out = ddb.execute_statement(Statement="SELECT v, m.x FROM pqt WHERE pk = 'p' AND sk = 2")
    assert out["Items"] == [{"v": {"N": "20"}, "m": {"M": {"x": {"N": "2"}}}}]
    out = ddb.execute_statement(Statement='SELECT "v" FROM "pqt" WHERE "pk" = \'q\' AND sk = 0')
    assert out["Items"] == [{}]


def test_select_order_by(ddb, table):
    out = ddb.execute_statement(Statement="SELECT sk FROM pqt WHERE pk = 'p' AND sk < 4 "
                                          "ORDER BY sk DESC")
    assert sks(out["Items"]) == [3, 2, 1, 0]
    out = ddb.execute_statement(Statement="SELECT sk FROM pqt WHERE pk = 'p' AND sk < 3 "
                                          "ORDER BY sk ASC")
    assert sks(out["Items"]) == [0, 1, 2]
    assert error(ddb.execute_statement, Statement="SELECT * FROM pqt ORDER BY sk") == (
        "ValidationException",
        "Must have WHERE clause in the statement when using ORDER BY clause.")
    assert error(ddb.execute_statement, Statement="SELECT * FROM pqt WHERE sk = 1 ORDER BY sk") == (
        "ValidationException",
        "Must have at least one non-optional hash key condition in WHERE clause when using "
        "ORDER BY clause.")
    assert error(ddb.execute_statement,
                 Statement="SELECT * FROM pqt WHERE pk = 'p' ORDER BY v") == (
        "ValidationException",
        "Variable reference v in ORDER BY clause must be part of the primary key")


def test_select_parameters(ddb, table):
    out = ddb.execute_statement(Statement="SELECT sk FROM pqt WHERE pk = ? AND sk BETWEEN ? AND ?",
                                Parameters=[{"S": "p"}, {"N": "10"}, {"N": "12"}])
    assert sks(out["Items"]) == [10, 11, 12]
    code, msg = error(ddb.execute_statement, Statement="SELECT * FROM pqt WHERE pk = ?",
                      Parameters=[{"S": "p"}, {"S": "extra"}])
    assert (code, msg) == ("ValidationException",
                           "Number of parameters in request and statement don't match.")
    code, msg = error(ddb.execute_statement, Statement="SELECT * FROM pqt WHERE pk = ?")
    assert msg == "Number of parameters in request and statement don't match."


def test_select_pagination_walked_to_the_end(ddb, table):
    items, pages = walk(ddb, Statement="SELECT * FROM pqt WHERE pk = 'p'", Limit=7)
    assert sks(items) == list(range(N))
    assert pages == 5          # 7+7+7+7+2, the last page shorter
    items, pages = walk(ddb, Statement="SELECT * FROM pqt WHERE pk = 'p' ORDER BY sk DESC",
                        Limit=10)
    assert sks(items) == list(reversed(range(N)))
    # A filter drops items after they count toward Limit, as Query's does.
    items, pages = walk(ddb, Statement="SELECT * FROM pqt WHERE pk = 'p' AND v >= 200", Limit=4)
    assert sks(items) == list(range(20, N))
    assert pages >= 8
    items, _ = walk(ddb, Statement="SELECT * FROM pqt", Limit=5)
    assert len(items) == N + 3
    out = ddb.execute_statement(Statement="SELECT * FROM pqt WHERE pk = 'p'", Limit=2)
    assert out["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"N": "1"}}
    assert error(ddb.execute_statement, Statement="SELECT * FROM pqt WHERE pk = 'q'",
                 NextToken=out["NextToken"]) == ("ValidationException",
                                                 "NextToken does not match request")
    assert error(ddb.execute_statement, Statement="SELECT * FROM pqt WHERE pk = 'p'",
                 NextToken="bm90IGEgdG9rZW4gYXQgYWxs") == ("ValidationException",
                                                          "NextToken does not match request")
    assert error(ddb.execute_statement, Statement="SELECT * FROM pqt WHERE pk = 'p'",
                 NextToken="%%%")[1] == "Invalid NextToken"


def test_select_index(ddb, table):
    out = ddb.execute_statement(Statement='SELECT sk FROM "pqt"."byg" WHERE g = \'odd\' '
                                          'AND sk < 6')
    assert sks(out["Items"]) == [1, 3, 5]
    assert error(ddb.execute_statement, Statement='SELECT * FROM "pqt"."nope" WHERE g = \'x\'') == (
        "ValidationException", "The table does not have the specified index: nope")
    assert error(ddb.execute_statement, ConsistentRead=True,
                 Statement='SELECT * FROM "pqt"."byg" WHERE g = \'x\'')[0] == "ValidationException"


def test_select_consistent_read(ddb, table):
    out = ddb.execute_statement(Statement="SELECT sk FROM pqt WHERE pk = 'q'", ConsistentRead=True,
                                ReturnConsumedCapacity="TOTAL")
    assert sks(out["Items"]) == [0, 1, 2]
    assert out["ConsumedCapacity"]["TableName"] == "pqt"


# ---- writes ----

def test_insert_and_duplicate(ddb):
    make_table(ddb, "pwt")
    out = ddb.execute_statement(Statement="INSERT INTO pwt VALUE {'pk': 'big', 'sk': 1, "
                                          "'v': '%s'}" % ("x" * 3000),
                                ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"] == {"TableName": "pwt", "CapacityUnits": 3.0}
    out = ddb.execute_statement(Statement="DELETE FROM pwt WHERE pk = 'big' AND sk = 1",
                                ReturnConsumedCapacity="INDEXES")
    assert out["ConsumedCapacity"] == {"TableName": "pwt", "CapacityUnits": 3.0,
                                       "Table": {"CapacityUnits": 3.0}}
    out = ddb.execute_statement(
        Statement="INSERT INTO pwt VALUE {'pk': 'a', 'sk': 1, 's': 'x''y', 'n': -1.5e2, "
                  "'b': true, 'z': null, 'l': [1, 'two', [3]], 'm': {'k': {'d': false}}, "
                  "'ss': <<'a', 'b'>>, 'ns': <<1, 2>>, 'p': ?}",
        Parameters=[{"B": b"\x00\x01"}])
    assert out["Items"] == []
    item = ddb.get_item(TableName="pwt", Key={"pk": {"S": "a"}, "sk": {"N": "1"}})["Item"]
    assert item == {"pk": {"S": "a"}, "sk": {"N": "1"}, "s": {"S": "x'y"}, "n": {"N": "-150"},
                    "b": {"BOOL": True}, "z": {"NULL": True},
                    "l": {"L": [{"N": "1"}, {"S": "two"}, {"L": [{"N": "3"}]}]},
                    "m": {"M": {"k": {"M": {"d": {"BOOL": False}}}}},
                    "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "p": {"B": b"\x00\x01"}}
    assert error(ddb.execute_statement,
                 Statement="INSERT INTO pwt VALUE {'pk': 'a', 'sk': 1, 'other': 2}") == (
        "DuplicateItemException", "Duplicate primary key exists in table")
    # The item was not replaced.
    assert "other" not in ddb.get_item(TableName="pwt",
                                       Key={"pk": {"S": "a"}, "sk": {"N": "1"}})["Item"]
    assert error(ddb.execute_statement, Statement="INSERT INTO pwt VALUE {'pk': 'a'}")[0] == \
        "ValidationException"
    assert error(ddb.execute_statement,
                 Statement="INSERT INTO pwt VALUE {'pk': 'a', 'sk': 'text'}")[0] == \
        "ValidationException"
    assert error(ddb.execute_statement,
                 Statement="INSERT INTO nosuch VALUE {'pk': 'a', 'sk': 1}") == (
        "ResourceNotFoundException", "Requested resource not found")


def test_update(ddb, module_server):
    make_table(ddb, "put")
    ddb.put_item(TableName="put", Item={"pk": {"S": "u"}, "sk": {"N": "1"}, "n": {"N": "5"},
                                       "gone": {"S": "x"}, "l": {"L": [{"N": "1"}]},
                                       "s": {"SS": ["a"]}})
    out = ddb.execute_statement(
        Statement="UPDATE put SET a = 1, n = n + 2 SET l = list_append(l, [2]) "
                  "SET s = set_add(s, <<'b', 'c'>>) REMOVE gone WHERE pk = 'u' AND sk = 1")
    assert out["Items"] == []
    item = ddb.get_item(TableName="put", Key={"pk": {"S": "u"}, "sk": {"N": "1"}})["Item"]
    assert item["a"] == {"N": "1"} and item["n"] == {"N": "7"}
    assert item["l"] == {"L": [{"N": "1"}, {"N": "2"}]}
    assert sorted(item["s"]["SS"]) == ["a", "b", "c"]
    assert "gone" not in item
    ddb.execute_statement(Statement="UPDATE put SET s = set_delete(s, <<'a'>>) "
                                    "WHERE pk = ? AND sk = ?",
                          Parameters=[{"S": "u"}, {"N": "1"}])
    item = ddb.get_item(TableName="put", Key={"pk": {"S": "u"}, "sk": {"N": "1"}})["Item"]
    assert sorted(item["s"]["SS"]) == ["b", "c"]
    # A condition beyond the key.
    code, msg = error(ddb.execute_statement,
                      Statement="UPDATE put SET a = 2 WHERE pk = 'u' AND sk = 1 AND n > 100")
    assert (code, msg) == ("ConditionalCheckFailedException", "The conditional request failed")
    ddb.execute_statement(Statement="UPDATE put SET a = 3 WHERE pk = 'u' AND sk = 1 AND n = 7")
    assert ddb.get_item(TableName="put",
                        Key={"pk": {"S": "u"}, "sk": {"N": "1"}})["Item"]["a"] == {"N": "3"}
    # No item matches: UPDATE never creates one.
    assert error(ddb.execute_statement,
                 Statement="UPDATE put SET a = 1 WHERE pk = 'none' AND sk = 1")[0] == \
        "ConditionalCheckFailedException"
    assert "Item" not in ddb.get_item(TableName="put", Key={"pk": {"S": "none"}, "sk": {"N": "1"}})
    # The whole key is needed.
    assert error(ddb.execute_statement, Statement="UPDATE put SET a = 1 WHERE pk = 'u'") == (
        "ValidationException",
        "Where clause does not contain a mandatory equality on all key attributes")
    assert error(ddb.execute_statement, Statement="UPDATE put SET a = 1 WHERE pk = 'u' OR sk = 1")[1] \
        == "Where clause does not contain a mandatory equality on all key attributes"
    assert error(ddb.execute_statement,
                 Statement="UPDATE put SET sk = 2 WHERE pk = 'u' AND sk = 1")[0] == \
        "ValidationException"
    # A runtime error of the update itself.
    assert error(ddb.execute_statement,
                 Statement="UPDATE put SET a = a + 'x' WHERE pk = 'u' AND sk = 1")[0] == \
        "ValidationException"
    # ReturnValuesOnConditionCheckFailure.
    status, body = raw(module_server, "ExecuteStatement", {
        "Statement": "UPDATE put SET a = 1 WHERE pk = 'u' AND sk = 1 AND a = 0",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"})
    assert status == 400
    assert body["__type"].endswith("#ConditionalCheckFailedException")
    assert body["Item"]["a"] == {"N": "3"}


def test_update_returning(ddb):
    make_table(ddb, "prt")
    ddb.put_item(TableName="prt", Item={"pk": {"S": "r"}, "sk": {"N": "1"}, "n": {"N": "1"},
                                       "o": {"S": "other"}})
    out = ddb.execute_statement(Statement="UPDATE prt SET n = n + 1 WHERE pk = 'r' AND sk = 1 "
                                          "RETURNING MODIFIED NEW *")
    assert out["Items"] == [{"n": {"N": "2"}}]
    out = ddb.execute_statement(Statement="UPDATE prt SET n = n + 1 WHERE pk = 'r' AND sk = 1 "
                                          "RETURNING ALL OLD *")
    assert out["Items"] == [{"pk": {"S": "r"}, "sk": {"N": "1"}, "n": {"N": "2"},
                             "o": {"S": "other"}}]
    out = ddb.execute_statement(Statement="DELETE FROM prt WHERE pk = 'r' AND sk = 1 "
                                          "RETURNING ALL OLD *")
    assert out["Items"][0]["n"] == {"N": "3"}
    assert error(ddb.execute_statement,
                 Statement="DELETE FROM prt WHERE pk = 'r' AND sk = 1 RETURNING ALL NEW *") == (
        "ValidationException", "Invalid returning clause: RETURNING ALL NEW *. Only RETURNING "
                               "ALL OLD * is allowed in DELETE statements.")


def test_delete(ddb):
    make_table(ddb, "pdt")
    ddb.put_item(TableName="pdt", Item={"pk": {"S": "d"}, "sk": {"N": "1"}, "n": {"N": "5"}})
    # Missing items delete nothing and succeed.
    assert ddb.execute_statement(Statement="DELETE FROM pdt WHERE pk = 'x' AND sk = 1")["Items"] == []
    assert error(ddb.execute_statement,
                 Statement="DELETE FROM pdt WHERE pk = 'd' AND sk = 1 AND n = 6") == (
        "ConditionalCheckFailedException", "The conditional request failed")
    assert "Item" in ddb.get_item(TableName="pdt", Key={"pk": {"S": "d"}, "sk": {"N": "1"}})
    ddb.execute_statement(Statement='DELETE FROM "pdt" WHERE "pk" = \'d\' AND "sk" = 1 AND n = 5')
    assert "Item" not in ddb.get_item(TableName="pdt", Key={"pk": {"S": "d"}, "sk": {"N": "1"}})
    assert error(ddb.execute_statement, Statement="DELETE FROM pdt WHERE pk = 'd'")[1] == \
        "Where clause does not contain a mandatory equality on all key attributes"
    assert error(ddb.execute_statement, Statement="DELETE FROM pdt")[1] == \
        "Where clause does not contain a mandatory equality on all key attributes"


def test_writes_reach_the_indexes(ddb, table):
    ddb.execute_statement(Statement="INSERT INTO pqt VALUE {'pk': 'w', 'sk': 1, 'g': 'idx'}")
    out = ddb.execute_statement(Statement="SELECT pk FROM \"pqt\".\"byg\" WHERE g = 'idx'")
    assert out["Items"] == [{"pk": {"S": "w"}}]
    ddb.execute_statement(Statement="UPDATE pqt SET g = 'idx2' WHERE pk = 'w' AND sk = 1")
    assert ddb.execute_statement(Statement="SELECT pk FROM \"pqt\".\"byg\" WHERE g = 'idx'")[
        "Items"] == []
    ddb.execute_statement(Statement="DELETE FROM pqt WHERE pk = 'w' AND sk = 1")
    assert ddb.execute_statement(Statement="SELECT pk FROM \"pqt\".\"byg\" WHERE g = 'idx2'")[
        "Items"] == []


# ---- errors of the statement ----

@pytest.mark.parametrize("stmt,msg", [
    ("SELEC * FROM pqt", "Statement wasn't well formed, can't be processed: Expected data "
                        "manipulation"),
    ("SELECT * FROM", "Statement wasn't well formed, can't be processed: Unexpected end of "
                      "statement"),
    ("SELECT * FROM pqt WHERE", "Statement wasn't well formed, can't be processed: Unexpected "
                               "end of statement"),
    ("SELECT * FROM pqt WHERE pk = 'p' AND", "Statement wasn't well formed, can't be processed: "
                                           "Unexpected end of statement"),
    ("SELECT * FROM pqt WHERE pk = 'unterminated", "Statement wasn't well formed, can't be "
                                                  "processed: Unexpected token"),
    ("SELECT * FROM pqt WHERE WHERE", "Statement wasn't well formed, can't be processed: "
                                     "Unexpected keyword"),
    ("EXISTS(SELECT * FROM pqt WHERE pk = 'p' AND sk = 1)",
     "EXISTS can only be used in ExecuteTransaction write requests."),
    ("SELECT *, a FROM pqt", "Other attributes should not be present in the projection when '*' "
                            "is used."),
    ("SELECT * FROM pqt WHERE a = MISSING", "MISSING must be compared using IS operator"),
    ("INSERT INTO pqt VALUE {'pk': 'a', 'sk': <<>>}", "Empty bags are not supported"),
    ("INSERT INTO pqt VALUE {'pk': 'a', 'sk': 1, 'x': <<1, 'a'>>}",
     "Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags"),
    ("INSERT INTO pqt VALUE ['a']", "Unsupported format in item expression. Please use struct "
                                   "format {...} to express item values for insert statement."),
    ("INSERT INTO pqt VALUES {'pk': 'a'}", "Unsupported operation: Inserting multiple items in a "
                                          "single statement is not supported, use \"INSERT INTO "
                                          "tableName VALUE item\" instead"),
    ("UPDATE pqt ADD a 1 WHERE pk = 'a'", "Only SET and REMOVE are supported in update "
                                         "expressions at this time"),
    ("UPDATE pqt SET a = set_add(b, <<1>>) WHERE pk = 'a' AND sk = 1",
     "The first argument to SET_ADD must equal the assignment value"),
    ("UPDATE pqt SET a = set_add(a, 1) WHERE pk = 'a' AND sk = 1",
     "The second argument to SET_ADD must be a value with type SET"),
    ("SELECT * FROM pqt WHERE a IS WHATEVER", "Unsupported data type for IS operator: WHATEVER. "
                                             "Supported data types are [MISSING, NULL, BOOLEAN, "
                                             "BLOB, STRING, NUMERIC, STRUCT, TUPLE, LIST]"),
])
def test_statement_errors(ddb, table, stmt, msg):
    assert error(ddb.execute_statement, Statement=stmt) == ("ValidationException", msg)


def test_request_errors(ddb, table):
    code, msg = error(ddb.execute_statement, Statement="SELECT * FROM pqt WHERE pk = '%s'" %
                      ("x" * 8200))
    assert code == "ValidationException"
    assert "Member must have length less than or equal to 8192" in msg
    assert error(ddb.execute_statement, Statement="SELECT * FROM nosuch WHERE pk = 'p'") == (
        "ResourceNotFoundException", "Requested resource not found")


# ---- BatchExecuteStatement ----

def test_batch_writes_and_errors(ddb):
    make_table(ddb, "pbt")
    ddb.put_item(TableName="pbt", Item={"pk": {"S": "dup"}, "sk": {"N": "1"}, "n": {"N": "1"}})
    ddb.put_item(TableName="pbt", Item={"pk": {"S": "cond"}, "sk": {"N": "1"}, "n": {"N": "1"}})
    out = ddb.batch_execute_statement(Statements=[
        {"Statement": "INSERT INTO pbt VALUE {'pk': 'a', 'sk': 1}"},
        {"Statement": "INSERT INTO pbt VALUE {'pk': 'dup', 'sk': 1}"},
        {"Statement": "UPDATE pbt SET n = 2 WHERE pk = 'cond' AND sk = 1 AND n = 99"},
        {"Statement": "INSERT INTO nosuch VALUE {'pk': 'a', 'sk': 1}"},
        {"Statement": "INSERT INTO pbt VALUE {'pk': ?, 'sk': ?}",
         "Parameters": [{"S": "b"}, {"N": "2"}]},
        {"Statement": "NOT A STATEMENT"},
        {"Statement": "DELETE FROM pbt WHERE pk = 'gone' AND sk = 1"},
    ], ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"] == [{"TableName": "pbt", "CapacityUnits": 3.0}]
    r = out["Responses"]
    assert len(r) == 7
    assert r[0] == {"TableName": "pbt"}
    assert r[1]["Error"] == {"Code": "DuplicateItem",
                             "Message": "Duplicate primary key exists in table"}
    assert r[2]["Error"] == {"Code": "ConditionalCheckFailed",
                             "Message": "The conditional request failed"}
    assert r[3]["Error"] == {"Code": "ResourceNotFound", "Message": "Requested resource not found"}
    assert r[4] == {"TableName": "pbt"}
    assert r[5]["Error"]["Code"] == "ValidationError"
    assert r[5]["Error"]["Message"].startswith("Statement wasn't well formed")
    assert r[6] == {"TableName": "pbt"}
    # The statements that succeeded were written, the failed ones changed nothing.
    items, _ = walk(ddb, Statement="SELECT * FROM pbt")
    assert sorted((i["pk"]["S"], i.get("n", {}).get("N")) for i in items) == [
        ("a", None), ("b", None), ("cond", "1"), ("dup", "1")]


def test_batch_reads(ddb, table):
    out = ddb.batch_execute_statement(Statements=[
        {"Statement": "SELECT v FROM pqt WHERE pk = 'p' AND sk = 3"},
        {"Statement": "SELECT * FROM pqt WHERE pk = 'p' AND sk = 999"},
        {"Statement": "SELECT * FROM pqt WHERE pk = ? AND sk = ? AND v > 1000",
         "Parameters": [{"S": "p"}, {"N": "4"}]},
        {"Statement": "SELECT * FROM pqt WHERE pk = 'p'"},
        {"Statement": "SELECT * FROM nosuch WHERE pk = 'p' AND sk = 1"},
    ], ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"] == [{"TableName": "pqt", "CapacityUnits": 1.5}]
    r = out["Responses"]
    assert r[0] == {"TableName": "pqt", "Item": {"v": {"N": "30"}}}
    assert r[1] == {"TableName": "pqt"}
    assert r[2] == {"TableName": "pqt"}
    assert r[3]["Error"] == {"Code": "ValidationError", "Message": "Where clause does not contain "
                             "a mandatory equality on all key attributes"}
    assert r[4]["Error"]["Code"] == "ResourceNotFound"


def test_batch_request_errors(ddb, table):
    assert error(ddb.batch_execute_statement, Statements=[
        {"Statement": "SELECT * FROM pqt WHERE pk = 'p' AND sk = 1"},
        {"Statement": "DELETE FROM pqt WHERE pk = 'p' AND sk = 1"}]) == (
        "ValidationException", "Read and write requests together in the same batch is not "
                               "supported.")
    code, msg = error(ddb.batch_execute_statement, Statements=[
        {"Statement": "SELECT * FROM pqt WHERE pk = 'p' AND sk = %d" % i} for i in range(26)])
    assert code == "ValidationException"
    assert "Member must have length less than or equal to 25" in msg
    assert error(ddb.batch_execute_statement, Statements=[
        {"Statement": "DELETE FROM pqt WHERE pk = 'p' AND sk = 1"},
        {"Statement": "DELETE FROM pqt WHERE pk = 'p' AND sk = 1"}]) == (
        "ValidationException", "Provided list of item keys contains duplicates")
    assert error(ddb.batch_execute_statement, Statements=[
        {"Statement": "SELECT * FROM pqt WHERE pk = 'p' AND sk = 1"},
        {"Statement": "SELECT * FROM pqt WHERE sk = 1 AND pk = 'p'"}]) == (
        "ValidationException", "Provided list of item keys contains duplicates")


# ---- ExecuteTransaction ----

def test_transaction_writes_all_or_nothing(ddb):
    make_table(ddb, "ptx")
    ddb.put_item(TableName="ptx", Item={"pk": {"S": "have"}, "sk": {"N": "1"}, "n": {"N": "1"}})
    ddb.put_item(TableName="ptx", Item={"pk": {"S": "also"}, "sk": {"N": "1"}})
    out = ddb.execute_transaction(TransactStatements=[
        {"Statement": "INSERT INTO ptx VALUE {'pk': 'new', 'sk': 1}"},
        {"Statement": "UPDATE ptx SET n = n + 1 WHERE pk = 'have' AND sk = 1 AND n = 1"},
        {"Statement": "DELETE FROM ptx WHERE pk = 'missing' AND sk = 1"},
        {"Statement": "EXISTS(SELECT * FROM ptx WHERE pk = ? AND sk = ?)",
         "Parameters": [{"S": "also"}, {"N": "1"}]},
    ], ClientRequestToken="tok-1", ReturnConsumedCapacity="TOTAL")
    assert len(out["Responses"]) == 4
    # Transactions cost twice: 2 + 2 + 2 for the writes, 2 for the check.
    assert out["ConsumedCapacity"] == [{"TableName": "ptx", "CapacityUnits": 8.0}]
    assert ddb.get_item(TableName="ptx", Key={"pk": {"S": "have"}, "sk": {"N": "1"}})[
        "Item"]["n"] == {"N": "2"}
    assert "Item" in ddb.get_item(TableName="ptx", Key={"pk": {"S": "new"}, "sk": {"N": "1"}})
    # The same token and statements: replayed, nothing applied twice.
    ddb.execute_transaction(TransactStatements=[
        {"Statement": "INSERT INTO ptx VALUE {'pk': 'new', 'sk': 1}"},
        {"Statement": "UPDATE ptx SET n = n + 1 WHERE pk = 'have' AND sk = 1 AND n = 1"},
        {"Statement": "DELETE FROM ptx WHERE pk = 'missing' AND sk = 1"},
        {"Statement": "EXISTS(SELECT * FROM ptx WHERE pk = ? AND sk = ?)",
         "Parameters": [{"S": "also"}, {"N": "1"}]},
    ], ClientRequestToken="tok-1")
    assert ddb.get_item(TableName="ptx", Key={"pk": {"S": "have"}, "sk": {"N": "1"}})[
        "Item"]["n"] == {"N": "2"}
    assert error(ddb.execute_transaction, ClientRequestToken="tok-1", TransactStatements=[
        {"Statement": "DELETE FROM ptx WHERE pk = 'have' AND sk = 1"}])[0] == \
        "IdempotentParameterMismatchException"

    # One failure cancels every statement.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.execute_transaction(TransactStatements=[
            {"Statement": "INSERT INTO ptx VALUE {'pk': 'other', 'sk': 1}"},
            {"Statement": "INSERT INTO ptx VALUE {'pk': 'new', 'sk': 1}"},
            {"Statement": "UPDATE ptx SET n = 5 WHERE pk = 'have' AND sk = 1 AND n = 99"},
            {"Statement": "UPDATE ptx SET n = 5 WHERE pk = 'nobody' AND sk = 1"},
            {"Statement": "EXISTS(SELECT * FROM ptx WHERE pk = 'nobody' AND sk = 2)"},
        ])
    err = e.value.response
    assert err["Error"]["Code"] == "TransactionCanceledException"
    assert err["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, DuplicateItem, ConditionalCheckFailed, ConditionalCheckFailed, "
        "ConditionalCheckFailed]")
    reasons = err["CancellationReasons"]
    assert reasons[0] == {"Code": "None"}
    assert reasons[1] == {"Code": "DuplicateItem",
                          "Message": "Duplicate primary key exists in table"}
    assert reasons[2] == {"Code": "ConditionalCheckFailed",
                          "Message": "The conditional request failed"}
    assert "Item" not in ddb.get_item(TableName="ptx",
                                      Key={"pk": {"S": "other"}, "sk": {"N": "1"}})
    assert ddb.get_item(TableName="ptx", Key={"pk": {"S": "have"}, "sk": {"N": "1"}})[
        "Item"]["n"] == {"N": "2"}


def test_transaction_reads(ddb, table):
    out = ddb.execute_transaction(TransactStatements=[
        {"Statement": "SELECT v FROM pqt WHERE pk = 'p' AND sk = 5"},
        {"Statement": "SELECT * FROM pqt WHERE pk = 'p' AND sk = 500"},
    ], ReturnConsumedCapacity="INDEXES")
    assert out["Responses"] == [{"Item": {"v": {"N": "50"}}}, {}]
    assert out["ConsumedCapacity"] == [{"TableName": "pqt", "CapacityUnits": 4.0,
                                        "Table": {"CapacityUnits": 4.0}}]
    assert error(ddb.execute_transaction, TransactStatements=[
        {"Statement": "SELECT * FROM pqt WHERE pk = 'p'"}]) == (
        "ValidationException", "Select statements within ExecuteTransaction must specify the "
                               "primary key in the where clause.")
    assert error(ddb.execute_transaction, TransactStatements=[
        {"Statement": "SELECT * FROM \"pqt\".\"byg\" WHERE g = 'odd' AND sk = 1"}]) == (
        "ValidationException", "Reads on indices are not supported within transactions.")


def test_transaction_request_errors(ddb, table):
    assert error(ddb.execute_transaction, TransactStatements=[
        {"Statement": "SELECT * FROM pqt WHERE pk = 'p' AND sk = 1"},
        {"Statement": "DELETE FROM pqt WHERE pk = 'p' AND sk = 2"}]) == (
        "ValidationException", "ExecuteTransaction API does not support both read and write "
                               "operations in the same request.")
    assert error(ddb.execute_transaction, TransactStatements=[
        {"Statement": "DELETE FROM pqt WHERE pk = 'p' AND sk = 2"},
        {"Statement": "UPDATE pqt SET a = 1 WHERE pk = 'p' AND sk = 2"}]) == (
        "ValidationException", "Transaction request cannot include multiple operations on one "
                               "item")
    assert error(ddb.execute_transaction, TransactStatements=[
        {"Statement": "DELETE FROM pqt WHERE pk = 'p' AND sk = 2 RETURNING ALL OLD *"}]) == (
        "ValidationException", "Validation failed in TransactStatements[0]: RETURNING clause is "
                               "not supported in ExecuteTransaction.")
    assert error(ddb.execute_transaction, TransactStatements=[
        {"Statement": "DELETE FROM nosuch WHERE pk = 'p' AND sk = 2"}]) == (
        "ResourceNotFoundException", "Requested resource not found")
    assert error(ddb.execute_transaction, TransactStatements=[
        {"Statement": "DELETE FROM pqt WHERE pk = 'p'"}])[1] == \
        "Where clause does not contain a mandatory equality on all key attributes"
    code, msg = error(ddb.execute_transaction, TransactStatements=[
        {"Statement": "DELETE FROM pqt WHERE pk = 'p' AND sk = %d" % i} for i in range(101)])
    assert code == "ValidationException"
    assert "Member must have length less than or equal to 100" in msg
    assert error(ddb.execute_transaction, TransactStatements=[{"Statement": "BOGUS"}])[1] == \
        "Statement wasn't well formed, can't be processed: Expected data manipulation"
    big = {"S": "x" * (390 * 1024)}
    assert error(ddb.execute_transaction, TransactStatements=[
        {"Statement": "INSERT INTO pqt VALUE {'pk': 'big', 'sk': ?, 'v': ?}",
         "Parameters": [{"N": str(i)}, big]} for i in range(11)]) == (
        "ValidationException", "Transaction request cannot be larger than 4 MB")


# ---- streams and durability ----

def test_writes_append_stream_records(module_server, ddb):
    td = ddb.create_table(
        TableName="pst", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    ddb.execute_statement(Statement="INSERT INTO pst VALUE {'pk': 'a', 'n': 1}")
    ddb.execute_statement(Statement="UPDATE pst SET n = 2 WHERE pk = 'a'")
    ddb.batch_execute_statement(Statements=[
        {"Statement": "INSERT INTO pst VALUE {'pk': 'b'}"},
        {"Statement": "INSERT INTO pst VALUE {'pk': 'a'}"}])         # a duplicate: no record
    ddb.execute_transaction(TransactStatements=[
        {"Statement": "DELETE FROM pst WHERE pk = 'a'"},
        {"Statement": "UPDATE pst SET n = 3 WHERE pk = 'b'"}])
    st = module_server.client("dynamodbstreams")
    shard = st.describe_stream(StreamArn=td["LatestStreamArn"])["StreamDescription"]["Shards"][0]
    it = st.get_shard_iterator(StreamArn=td["LatestStreamArn"], ShardId=shard["ShardId"],
                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    recs = st.get_records(ShardIterator=it)["Records"]
    got = [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"],
            r["dynamodb"].get("NewImage", {}).get("n", {}).get("N")) for r in recs]
    assert got == [("INSERT", "a", "1"), ("MODIFY", "a", "2"), ("INSERT", "b", None),
                   ("REMOVE", "a", None), ("MODIFY", "b", "3")]


def test_acknowledged_writes_survive_kill(make_server):
    s = make_server().start()
    ddb = s.client("dynamodb")
    make_table(ddb, "pkl")
    for i in range(20):
        ddb.execute_statement(Statement="INSERT INTO pkl VALUE {'pk': 'k', 'sk': ?, 'v': ?}",
                              Parameters=[{"N": str(i)}, {"S": "v%d" % i}])
    ddb.execute_statement(Statement="UPDATE pkl SET v = 'changed' WHERE pk = 'k' AND sk = 3")
    ddb.execute_statement(Statement="DELETE FROM pkl WHERE pk = 'k' AND sk = 4")
    ddb.execute_transaction(TransactStatements=[
        {"Statement": "UPDATE pkl SET v = 'tx' WHERE pk = 'k' AND sk = 5"},
        {"Statement": "INSERT INTO pkl VALUE {'pk': 'k', 'sk': 100}"}])
    s.kill()
    s.start()
    ddb = s.client("dynamodb")
    items, _ = walk(ddb, Statement="SELECT sk, v FROM pkl WHERE pk = 'k'", Limit=6)
    got = {int(i["sk"]["N"]): i.get("v", {}).get("S") for i in items}
    want = {i: "v%d" % i for i in range(20) if i != 4}
    want.update({3: "changed", 5: "tx", 100: None})
    assert got == want
