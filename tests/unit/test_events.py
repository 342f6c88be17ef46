"""S3 notifications are parsed the same whether they come through SQS or directly."""

from __future__ import annotations

import json

import pytest

from cloud_functions.core.errors import InvalidEventError
from cloud_functions.core.events import is_direct_s3_event, s3_objects, s3_objects_in_sqs_body


def s3_notification(key: str, size: int = 1234, event_name: str = "ObjectCreated:Put") -> dict[str, object]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-23T03:35:00.000Z",
                "eventName": event_name,
                "userIdentity": {"principalId": "local"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "r", "x-amz-id-2": "i"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "faces",
                    "bucket": {
                        "name": "captures",
                        "ownerIdentity": {"principalId": "local"},
                        "arn": "arn:aws:s3:::captures",
                    },
                    "object": {"key": key, "size": size, "eTag": "e", "sequencer": "0"},
                },
            }
        ]
    }


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("captures/faces/R101/2026-11-23/a.jpg", "captures/faces/R101/2026-11-23/a.jpg"),
        ("captures%2Ffaces%2FR101%2Fa.jpg", "captures/faces/R101/a.jpg"),  # some emulators encode '/'
        ("enrollment/1MS21CS001/front+left.jpg", "enrollment/1MS21CS001/front left.jpg"),  # AWS: space as +
    ],
)
def test_keys_are_url_decoded(encoded: str, decoded: str) -> None:
    body = json.dumps(s3_notification(encoded))
    [ref] = s3_objects_in_sqs_body(body)
    assert (ref.bucket, ref.key, ref.size_bytes) == ("captures", decoded, 1234)


def test_test_event_and_deletions_name_no_created_object() -> None:
    assert s3_objects({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "captures"}) == []
    assert s3_objects(s3_notification("a.jpg", event_name="ObjectRemoved:Delete")) == []


@pytest.mark.parametrize("body", ["not json", json.dumps({"hello": "world"}), json.dumps([1, 2])])
def test_malformed_bodies_are_invalid_events(body: str) -> None:
    with pytest.raises(InvalidEventError):
        s3_objects_in_sqs_body(body)


def test_direct_s3_events_are_told_apart_from_sqs_batches() -> None:
    assert is_direct_s3_event(s3_notification("a.jpg"))
    assert not is_direct_s3_event({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]})
    assert not is_direct_s3_event({"Records": []})
