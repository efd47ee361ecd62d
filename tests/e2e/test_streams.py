"""DynamoDB Streams API through boto3: streams born with their tables, shards, iterators,
and the end of a shard once its table is gone."""
import pytest
from botocore.exceptions import ClientError


def make_table(ddb, name, view="NEW_AND_OLD_IMAGES"):
    return ddb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )["TableDescription"]


def test_stream_lifecycle(server):
    ddb = server.client("dynamodb")
    st = server.client("dynamodbstreams")
    td = make_table(ddb, "Invoices")
    make_table(ddb, "Other", "KEYS_ONLY")
    arn = td["LatestStreamArn"]

    streams = st.list_streams(TableName="Invoices")["Streams"]
    assert streams == [{"StreamArn": arn, "TableName": "Invoices",
                        "StreamLabel": td["LatestStreamLabel"]}]
    assert len(st.list_streams()["Streams"]) == 2
    page = st.list_streams(Limit=1)
    assert len(page["Streams"]) == 1 and "LastEvaluatedStreamArn" in page
    rest = st.list_streams(ExclusiveStartStreamArn=page["LastEvaluatedStreamArn"])
    assert len(rest["Streams"]) == 1 and "LastEvaluatedStreamArn" not in rest

    d = st.describe_stream(StreamArn=arn)["StreamDescription"]
    assert d["StreamStatus"] == "ENABLED"
    assert d["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert d["TableName"] == "Invoices"
    assert d["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert len(d["Shards"]) == 1
    shard = d["Shards"][0]
    assert shard["ShardId"].startswith("shardId-")
    assert "StartingSequenceNumber" in shard["SequenceNumberRange"]
    assert "EndingSequenceNumber" not in shard["SequenceNumberRange"]

    for kind in ("TRIM_HORIZON", "LATEST"):
        it = st.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                   ShardIteratorType=kind)["ShardIterator"]
        out = st.get_records(ShardIterator=it, Limit=10)
        assert out["Records"] == []
        assert out["NextShardIterator"]

    it = st.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    ddb.delete_table(TableName="Invoices")
    d = st.describe_stream(StreamArn=arn)["StreamDescription"]
    assert d["StreamStatus"] == "DISABLED"
    assert "EndingSequenceNumber" in d["Shards"][0]["SequenceNumberRange"]
    out = st.get_records(ShardIterator=it)
    assert out["Records"] == []
    assert "NextShardIterator" not in out


def test_stream_errors(server):
    ddb = server.client("dynamodb")
    st = server.client("dynamodbstreams", validate=False)
    arn = make_table(ddb, "T1x")["LatestStreamArn"]
    shard = st.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    with pytest.raises(ClientError) as e:
        st.describe_stream(StreamArn=arn + "x")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        st.get_shard_iterator(StreamArn=arn, ShardId="shardId-nope",
                              ShardIteratorType="LATEST")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        st.get_shard_iterator(StreamArn=arn, ShardId=shard,
                              ShardIteratorType="AT_SEQUENCE_NUMBER")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        st.get_records(ShardIterator="bm90IGFuIGl0ZXJhdG9y")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        st.get_records(ShardIterator="x", Limit=1001)
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_stream_survives_restart(make_server, data_dir):
    s = make_server(data_dir).start()
    arn = make_table(s.client("dynamodb"), "Keep")["LatestStreamArn"]
    assert s.stop()[0] == 0
    s2 = make_server(data_dir).start()
    d = s2.client("dynamodbstreams").describe_stream(StreamArn=arn)["StreamDescription"]
    assert d["StreamStatus"] == "ENABLED"
