"""The local stack against the real local endpoint (moto server on 127.0.0.1).

What the template declares is what the endpoint holds; objects under each prefix reach their
function as Lambda delivers them; failures are retried, partially retried, then dead-lettered;
the ``up`` command starts and stops cleanly.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest
import sqlalchemy as sa
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventV2Model,
    S3Model,
    SnsModel,
    SqsModel,
)
from cfnlint.api import lint_file
from fastapi import FastAPI, Request, Response
from mangum import Mangum

from contracts.handoff import Handoff
from infra.local_stack import (
    DEFAULT_TEMPLATE_PATH,
    HttpApiGateway,
    LocalStack,
    free_port,
    load_template_document,
    port_is_free,
)
from tests.conftest import DATA_DIR, MYSQL_SERVER_URL, REPO_ROOT
from tests.events import event_names, load_event
from tests.local_stack_fixtures import LocalStackFactory

FACE_JPEG = DATA_DIR / "antispoof" / "image_T1.jpg"


# --- what the template declares, read independently of the provisioner ------------------------------


def _declared(stage: str) -> dict[str, Any]:
    """Queues, topics, subscriptions and notifications of template.yaml for ``stage`` and default rooms.

    Reads the YAML with plain string substitution of ``Stage``/``RoomId``/account/region, so it does
    not share the provisioner's evaluation of intrinsic functions.
    """
    document = load_template_document(DEFAULT_TEMPLATE_PATH)
    rooms = document["Parameters"]["RoomIds"]["Default"].split(",")
    account, region = "123456789012", "us-east-1"

    def text(value: Any, room: str | None = None) -> str:
        raw = value["Fn::Sub"] if isinstance(value, dict) else value
        raw = (
            raw.replace("${Stage}", stage)
            .replace("${AWS::AccountId}", account)
            .replace("${AWS::Region}", region)
        )
        return raw.replace("${RoomId}", room) if room else raw

    resources = {k: v for k, v in document["Resources"].items() if not k.startswith("Fn::ForEach::")}
    loops = [v for k, v in document["Resources"].items() if k.startswith("Fn::ForEach::")]
    queues = {
        logical_id: text(body["Properties"]["QueueName"])
        for logical_id, body in resources.items()
        if body["Type"] == "AWS::SQS::Queue"
    }
    dlq_of = {
        queues[logical_id]: queues[
            body["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        ]
        for logical_id, body in resources.items()
        if body["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in body["Properties"]
    }
    # Subscriptions outside the room loop: the teacher notifications' queue, with no filter.
    subscriptions = {
        (
            queues[body["Properties"]["Endpoint"]["Fn::GetAtt"][0]],
            json.dumps(body["Properties"].get("FilterPolicy", {})),
            str(body["Properties"].get("RawMessageDelivery", False)).lower(),
        )
        for body in resources.values()
        if body["Type"] == "AWS::SNS::Subscription"
    }
    for _identifier, _collection, fragment in loops:
        for room in rooms:
            bodies = {name.replace("${RoomId}", room): body for name, body in fragment.items()}
            names = {
                name: text(body["Properties"]["QueueName"], room)
                for name, body in bodies.items()
                if body["Type"] == "AWS::SQS::Queue"
            }
            queues.update(names)
            for name, body in bodies.items():
                properties = body["Properties"]
                if body["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in properties:
                    target = properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]["Fn::Sub"]
                    dlq_of[names[name]] = names[target.replace("${RoomId}", room)]
                if body["Type"] == "AWS::SNS::Subscription":
                    queue_logical_id = properties["Endpoint"]["Fn::GetAtt"][0]["Fn::Sub"].replace(
                        "${RoomId}", room
                    )
                    subscriptions.add(
                        (
                            names[queue_logical_id],
                            json.dumps({"room_id": [room]}),
                            str(properties["RawMessageDelivery"]).lower(),
                        )
                    )
    topics = {
        text(b["Properties"]["TopicName"]) for b in resources.values() if b["Type"] == "AWS::SNS::Topic"
    }
    bucket = resources["CaptureBucket"]["Properties"]
    notifications = {
        (rule["Filter"]["S3Key"]["Rules"][0]["Value"], queues[rule["Queue"]["Fn::GetAtt"][0]])
        for rule in bucket["NotificationConfiguration"]["QueueConfigurations"]
    }
    lifecycle = {
        (rule["Prefix"], int(document["Parameters"]["CaptureRetentionDays"]["Default"]))
        for rule in bucket["LifecycleConfiguration"]["Rules"]
    }
    buckets = {
        text(b["Properties"]["BucketName"]) for b in resources.values() if b["Type"] == "AWS::S3::Bucket"
    }
    policed = {
        text(resources[b["Properties"]["Bucket"]["Ref"]]["Properties"]["BucketName"])
        for b in resources.values()
        if b["Type"] == "AWS::S3::BucketPolicy"
    }
    return {
        "bucket": text(bucket["BucketName"]),
        "buckets": buckets,
        "bucket_policies": policed,
        "queues": set(queues.values()),
        "dlq_of": dlq_of,
        "topics": topics,
        "subscriptions": subscriptions,
        "notifications": notifications,
        "lifecycle": lifecycle,
    }


def _actual(stack: LocalStack, stage: str) -> dict[str, Any]:
    """The same facts, asked of the endpoint through the AWS APIs."""
    sqs, sns, s3 = stack.client("sqs"), stack.client("sns"), stack.client("s3")
    prefix = f"classsight-{stage}-"
    urls = sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    name_of_arn = {}
    dlq_arn_of = {}
    for url in urls:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        name_of_arn[attributes["QueueArn"]] = url.rsplit("/", 1)[-1]
        if "RedrivePolicy" in attributes:
            dlq_arn_of[url.rsplit("/", 1)[-1]] = json.loads(attributes["RedrivePolicy"])[
                "deadLetterTargetArn"
            ]
    topic_arns = [
        t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].split(":")[-1].startswith(prefix)
    ]
    subscriptions = set()
    for topic_arn in topic_arns:
        for subscription in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]:
            attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])[
                "Attributes"
            ]
            subscriptions.add(
                (
                    name_of_arn[subscription["Endpoint"]],
                    json.dumps(json.loads(attributes.get("FilterPolicy", "{}"))),
                    attributes.get("RawMessageDelivery", "false"),
                )
            )
    bucket = stack.bucket_name
    notification = s3.get_bucket_notification_configuration(Bucket=bucket)
    notifications = {
        (entry["Filter"]["Key"]["FilterRules"][0]["Value"], name_of_arn[entry["QueueArn"]])
        for entry in notification.get("QueueConfigurations", [])
    }
    lifecycle = {
        (rule["Filter"]["Prefix"], rule["Expiration"]["Days"])
        for rule in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    }
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(prefix)}
    policed = set()
    for name in buckets:
        try:
            s3.get_bucket_policy(Bucket=name)
            policed.add(name)
        except s3.exceptions.ClientError:
            continue
    return {
        "bucket": bucket,
        "buckets": buckets,
        "bucket_policies": policed,
        "queues": set(name_of_arn.values()),
        "dlq_of": {name: name_of_arn[arn] for name, arn in dlq_arn_of.items()},
        "topics": {arn.split(":")[-1] for arn in topic_arns},
        "subscriptions": subscriptions,
        "notifications": notifications,
        "lifecycle": lifecycle,
    }


@pytest.mark.parametrize(
    "fact",
    [
        "bucket",
        "buckets",
        "bucket_policies",
        "queues",
        "dlq_of",
        "topics",
        "subscriptions",
        "notifications",
        "lifecycle",
    ],
)
def test_local_stack_creates_exactly_the_template_resources(local_stack: LocalStack, fact: str) -> None:
    # GIVEN the session stack provisioned from template.yaml with Stage=test
    # WHEN the endpoint is asked what exists
    actual = _actual(local_stack, "test")[fact]
    # THEN it is exactly what the template declares
    assert actual == _declared("test")[fact]


def test_every_template_resource_is_created_or_knowingly_skipped(local_stack: LocalStack) -> None:
    # GIVEN the template after loops are expanded
    declared = set(local_stack.provisioned.template.resources)
    # WHEN the provisioner is done
    accounted = set(local_stack.resources) | set(local_stack.functions) | set(local_stack.skipped)
    # THEN nothing was silently ignored, and the functions have their queues
    assert accounted == declared
    assert {
        f: [s.queue_logical_id for s in fn.sqs_event_sources] for f, fn in local_stack.functions.items()
    } == {
        "EnrollFunction": ["EnrollQueue"],
        "FaceMatchFunction": ["FaceCapturesQueue"],
        "BodyMatchFunction": ["BodyCapturesQueue"],
        "PresenceFunction": ["PresenceQueue"],
        "SweepFunction": [],
        "NotifyFunction": [],
        "ApiFunction": [],
    }
    assert {
        f: [(s.event_id, s.expression) for s in fn.schedule_event_sources]
        for f, fn in local_stack.functions.items()
        if fn.schedule_event_sources
    } == {
        "BodyMatchFunction": [("BodyPrintRetention", "rate(1 hour)")],
        "SweepFunction": [("AbsentSweep", "rate(5 minutes)")],
        "NotifyFunction": [("DailyTeacherNotifications", "cron(30 12 * * ? *)")],
    }
    assert {
        f: [r.route_key for r in fn.http_routes] for f, fn in local_stack.functions.items() if fn.http_routes
    } == {
        "ApiFunction": [
            "$default",
            "POST /auth/sign-in",
            "POST /auth/refresh",
            "GET /health",
            "GET /docs",
            "GET /redoc",
            "GET /docs/assets/{name}",
            "GET /openapi.json",
            "OPTIONS /{proxy+}",
            "ANY /edge/{proxy+}",
        ]
    }


def test_the_people_user_pool_has_its_groups_and_portal_client(local_stack: LocalStack) -> None:
    # GIVEN the session stack WHEN the endpoint is asked about the API's User Pool
    env = local_stack.env("ApiFunction")
    cognito = local_stack.client("cognito-idp")
    pool_id = env["CLASSSIGHT_COGNITO_USER_POOL_ID"]
    groups = cognito.list_groups(UserPoolId=pool_id)["Groups"]
    client = cognito.describe_user_pool_client(
        UserPoolId=pool_id, ClientId=env["CLASSSIGHT_COGNITO_CLIENT_ID"]
    )["UserPoolClient"]
    # THEN it has the admin and teacher groups and the portal's client with the template's flows
    assert sorted(group["GroupName"] for group in groups) == ["admin", "teacher"]
    assert set(client["ExplicitAuthFlows"]) == {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    assert local_stack.provisioned.outputs["UserPoolId"] == pool_id


def test_outputs_resolve_to_the_local_resources(local_stack: LocalStack) -> None:
    # GIVEN the session stack WHEN its outputs are read THEN they name the local resources
    rooms = local_stack.parameters["RoomIds"]
    expected = {
        "BucketName": local_stack.bucket_name,
        "HandoffTopicArn": local_stack.handoff_topic_arn,
        "FaceCapturesQueueUrl": local_stack.queue_url("FaceMatchFunction"),
        **{f"HandoffQueueUrl{room}": local_stack.room_queue_url(room) for room in rooms},
    }
    assert {name: local_stack.outputs[name] for name in expected} == expected


# --- delivery: S3 -> SQS -> handler -----------------------------------------------------------------


class RecordingHandler:
    """A handler that keeps every event it gets and reports the failures it is told to."""

    def __init__(self, fail_keys: set[str] | None = None, raises: bool = False) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail_keys = fail_keys or set()
        self.raises = raises

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        assert context.get_remaining_time_in_millis() > 0
        if self.raises:
            raise RuntimeError("handler failed on purpose")
        failures = [
            {"itemIdentifier": record["messageId"]}
            for record in event["Records"]
            if any(_s3_key(record) == key for key in self.fail_keys)
        ]
        return {"batchItemFailures": failures}


def _s3_key(record: dict[str, Any]) -> str:
    return unquote_plus(json.loads(record["body"])["Records"][0]["s3"]["object"]["key"])


@pytest.mark.parametrize(
    ("key_prefix", "function"),
    [
        ("captures/faces/R101/2024-05-06/", "FaceMatchFunction"),
        ("enrollment/1MS21CS001/", "EnrollFunction"),
        ("captures/bodies/R101/2024-05-06/", "BodyMatchFunction"),
        ("captures/presence/R101/2024-05-06/", "PresenceFunction"),
    ],
)
def test_object_under_prefix_reaches_its_function_as_sqs_wrapped_s3_event(
    clean_local_stack: LocalStack, key_prefix: str, function: str
) -> None:
    # GIVEN a real face JPEG and a key with characters S3 URL-encodes in notifications
    stack = clean_local_stack
    body = FACE_JPEG.read_bytes()
    key = f"{key_prefix}{uuid.uuid4().hex} shot+1.jpg"
    handler = RecordingHandler()

    # WHEN it is put in the bucket and the function's queue is drained
    stack.client("s3").put_object(Bucket=stack.bucket_name, Key=key, Body=body, ContentType="image/jpeg")
    result = stack.drain(function, handler=handler)

    # THEN the function got exactly one SQS record wrapping the S3 notification of that object
    assert not result.errors
    assert len(result.records) == 1
    record = result.records[0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == stack.queue_arn(function)
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    s3_record = json.loads(record["body"])["Records"][0]
    assert s3_record["eventSource"] == "aws:s3"
    assert s3_record["eventName"].startswith("ObjectCreated:")
    assert s3_record["s3"]["bucket"]["name"] == stack.bucket_name
    assert unquote_plus(s3_record["s3"]["object"]["key"]) == key
    assert s3_record["s3"]["object"]["size"] == len(body)
    # AND the message was deleted, and no other function's queue got it
    assert result.deleted_message_ids == [record["messageId"]]
    others = {f for f in stack.functions if stack.functions[f].sqs_event_sources} - {function}
    assert all(not stack.drain(other, handler=RecordingHandler()).records for other in others)


def test_object_outside_the_prefixes_reaches_no_function(clean_local_stack: LocalStack) -> None:
    # GIVEN an object under no notification prefix
    stack = clean_local_stack
    stack.client("s3").put_object(Bucket=stack.bucket_name, Key="exports/2024-05-06.csv", Body=b"usn\n")
    # WHEN every function's queue is drained
    delivered = [
        stack.drain(f, handler=RecordingHandler()).records for f in ("FaceMatchFunction", "EnrollFunction")
    ]
    delivered += [
        stack.drain(f, handler=RecordingHandler()).records for f in ("BodyMatchFunction", "PresenceFunction")
    ]
    # THEN nothing was delivered
    assert delivered == [[], [], [], []]


def test_handoff_reaches_only_its_room_queue_as_raw_message(clean_local_stack: LocalStack) -> None:
    # GIVEN a handoff for room R102 published with room_id as a message attribute
    stack = clean_local_stack
    handoff = {"usn": "1MS21CS001", "room_id": "R102", "capture_id": uuid.uuid4().hex}
    stack.client("sns").publish(
        TopicArn=stack.handoff_topic_arn,
        Message=json.dumps(handoff),
        MessageAttributes={"room_id": {"DataType": "String", "StringValue": "R102"}},
    )
    sqs = stack.client("sqs")
    # WHEN each room's queue is read
    received = {
        room: sqs.receive_message(QueueUrl=stack.room_queue_url(room), MessageAttributeNames=["All"]).get(
            "Messages", []
        )
        for room in ("R101", "R102")
    }
    # THEN only R102 has it, body unwrapped, with the room attribute
    assert received["R101"] == []
    assert [json.loads(m["Body"]) for m in received["R102"]] == [handoff]
    assert received["R102"][0]["MessageAttributes"]["room_id"]["StringValue"] == "R102"


def test_purge_between_tests_also_drops_messages_in_flight(fast_retry_stack: LocalStack) -> None:
    # GIVEN a message a failing handler left in flight, on a queue purged moments ago
    stack = fast_retry_stack
    stack.purge()
    sqs, queue_url = stack.client("sqs"), stack.queue_url("FaceMatchFunction")
    sqs.send_message(QueueUrl=queue_url, MessageBody="left over")
    assert len(sqs.receive_message(QueueUrl=queue_url).get("Messages", [])) == 1
    # WHEN the stack is purged again, and the visibility timeout passes
    stack.purge()
    # THEN the message does not come back to haunt the next test
    assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2).get("Messages", []) == []


# --- sample events agree with what the local stack delivers -------------------------------------------

SQS_S3_SAMPLES = [
    name for name in event_names() if name.startswith("sqs_s3_") and name != "sqs_s3_test_event"
]


def _missing_fields(delivered: Any, sample: Any, path: str = "") -> list[str]:
    """Fields present in ``delivered`` but absent from ``sample`` (recursively through dicts)."""
    if not isinstance(delivered, dict) or not isinstance(sample, dict):
        return []
    missing = []
    for key, value in delivered.items():
        if key not in sample:
            missing.append(f"{path}{key}")
        elif isinstance(value, list) and isinstance(sample[key], list) and value and sample[key]:
            missing += _missing_fields(value[0], sample[key][0], f"{path}{key}[0].")
        else:
            missing += _missing_fields(value, sample[key], f"{path}{key}.")
    return missing


@pytest.fixture(scope="module")
def delivered_face_capture(local_stack_factory: LocalStackFactory) -> dict[str, Any]:
    """One SQS record exactly as the local stack delivered a face capture to its handler."""
    stack = local_stack_factory()
    key = f"captures/faces/R101/2024-05-06/{uuid.uuid4().hex}.jpg"
    stack.client("s3").put_object(Bucket=stack.bucket_name, Key=key, Body=FACE_JPEG.read_bytes())
    result = stack.drain("FaceMatchFunction", handler=RecordingHandler())
    assert len(result.records) == 1
    return result.records[0]


@pytest.mark.parametrize("name", SQS_S3_SAMPLES)
def test_sample_event_has_every_field_the_local_stack_delivers(
    delivered_face_capture: dict[str, Any], name: str
) -> None:
    # GIVEN a sample SQS-wrapped S3 event and a record the local stack delivered
    sample = load_event(name)["Records"][0]
    # WHEN their fields are compared, outside and inside the body
    outer = _missing_fields(delivered_face_capture, sample)
    inner = _missing_fields(json.loads(delivered_face_capture["body"]), json.loads(sample["body"]))
    # THEN the sample (AWS's shape) has every field the local stack sends; AWS may send more
    assert (outer, inner) == ([], [])


def test_delivered_event_and_samples_parse_with_powertools_models(
    delivered_face_capture: dict[str, Any],
) -> None:
    # GIVEN the local delivery and the AWS-shaped samples
    # WHEN Powertools' own Lambda event models parse them
    SqsModel.model_validate({"Records": [delivered_face_capture]})
    for name in SQS_S3_SAMPLES:
        event = SqsModel.model_validate(load_event(name))
        S3Model.model_validate_json(event.Records[0].body)
    sns = SnsModel.model_validate(load_event("sns_handoff"))
    raw = load_event("sqs_handoff_raw_delivery")["Messages"][0]
    # THEN they are valid, and the handoff samples carry a valid handoff for their room
    assert Handoff.model_validate_json(sns.Records[0].Sns.Message).room_id == "R101"
    handoff = Handoff.model_validate_json(raw["Body"])
    assert raw["MessageAttributes"]["room_id"]["StringValue"] == handoff.room_id


# --- failure: retry, partial batch, dead-letter queue ----------------------------------------------


@pytest.fixture(scope="module")
def fast_retry_stack(local_stack_factory: LocalStackFactory) -> LocalStack:
    """A copy of the template whose messages come back after 1 s and dead-letter after 2 receives."""
    return local_stack_factory(QueueVisibilityTimeout="1", MaxReceiveCount="2")


def test_raising_handler_leaves_message_for_retry_then_in_dlq(fast_retry_stack: LocalStack) -> None:
    # GIVEN a face capture and a handler that always raises (maxReceiveCount 2, visibility 1 s)
    stack = fast_retry_stack
    stack.purge()
    key = f"captures/faces/R101/2024-05-06/{uuid.uuid4().hex}.jpg"
    stack.client("s3").put_object(Bucket=stack.bucket_name, Key=key, Body=FACE_JPEG.read_bytes())
    handler = RecordingHandler(raises=True)

    # WHEN the function's queue is drained, each receive waiting long enough for a retry to show
    result = stack.drain("FaceMatchFunction", handler=handler, wait_s=2, max_batches=5)
    receive_counts = [r["attributes"]["ApproximateReceiveCount"] for r in result.records]
    assert len(result.errors) == len(result.batches)

    # THEN it was delivered maxReceiveCount times, and then moved to the dead-letter queue intact
    assert receive_counts == ["1", "2"]
    dead = stack.client("sqs").receive_message(QueueUrl=stack.dlq_url("FaceMatchFunction"), WaitTimeSeconds=1)
    bodies = [json.loads(m["Body"]) for m in dead.get("Messages", [])]
    assert [unquote_plus(b["Records"][0]["s3"]["object"]["key"]) for b in bodies] == [key]


def test_partial_batch_failure_retries_only_the_reported_message(fast_retry_stack: LocalStack) -> None:
    # GIVEN three face captures, and a handler that reports the second as failed
    stack = fast_retry_stack
    stack.purge()
    keys = [f"captures/faces/R101/2024-05-06/{i}-{uuid.uuid4().hex}.jpg" for i in range(3)]
    for key in keys:
        stack.client("s3").put_object(Bucket=stack.bucket_name, Key=key, Body=b"jpeg")
    handler = RecordingHandler(fail_keys={keys[1]})

    # WHEN the queue is drained, and drained again after the visibility timeout
    first = stack.drain("FaceMatchFunction", handler=handler)
    second = stack.drain("FaceMatchFunction", handler=RecordingHandler(), wait_s=2)

    # THEN the first pass deleted two, and only the failed one came back, on its second receive
    assert sorted(_s3_key(r) for r in first.records) == sorted(keys)
    assert len(first.deleted_message_ids) == 2
    assert [_s3_key(r) for r in second.records] == [keys[1]]
    assert second.records[0]["attributes"]["ApproximateReceiveCount"] == "2"


# --- the HTTP API, served as API Gateway would --------------------------------------------------------


def _api_app() -> FastAPI:
    """A small app standing in for the portal API: routing, query lists, cookies, binary bodies."""
    app = FastAPI()

    @app.get("/")
    def root() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/items/{item_id}")
    def item(item_id: str, request: Request, response: Response) -> dict[str, Any]:
        response.set_cookie("seen", item_id)
        return {
            "item_id": item_id,
            "q": request.query_params.getlist("q"),
            "session": request.cookies.get("session"),
        }

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {"sha256": hashlib.sha256(body).hexdigest(), "content_type": request.headers["content-type"]}

    return app


@pytest.fixture(scope="module")
def http_api(local_stack: LocalStack) -> Iterator[HttpApiGateway]:
    """The template's HTTP API serving the stand-in app through Mangum, as the API image does."""
    gateway = local_stack.http_api({"ApiFunction": Mangum(_api_app(), lifespan="off")}).start()
    yield gateway
    gateway.stop()
    assert port_is_free(gateway.port)


def test_http_api_routes_every_path_to_the_app(http_api: HttpApiGateway) -> None:
    # GIVEN the $default route to the app WHEN the root and a parametrized path are requested
    with httpx.Client(base_url=http_api.url, cookies={"session": "abc"}) as client:
        root = client.get("/")
        item = client.get("/items/42", params=[("q", "a"), ("q", "b")])
    # THEN the app routes them, sees the query list and cookie, and its cookie comes back
    assert (root.status_code, root.json()) == (200, {"ok": True})
    assert (item.status_code, item.json()) == (200, {"item_id": "42", "q": ["a", "b"], "session": "abc"})
    assert item.cookies.get("seen") == "42"


def test_http_api_passes_binary_bodies_intact(http_api: HttpApiGateway) -> None:
    # GIVEN a real JPEG WHEN it is posted as the body
    body = FACE_JPEG.read_bytes()
    with httpx.Client(base_url=http_api.url) as client:
        response = client.post("/upload", content=body, headers={"content-type": "image/jpeg"})
    # THEN the app got exactly those bytes (base64 through the event, as on API Gateway)
    assert response.json() == {"sha256": hashlib.sha256(body).hexdigest(), "content_type": "image/jpeg"}


def _raw_request(gateway: HttpApiGateway, request: bytes, timeout_s: float = 5.0) -> bytes:
    """Send ``request`` as bytes on a fresh connection; return what comes back before it closes."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=timeout_s) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        return received


@pytest.mark.parametrize(
    "length",
    [b"abc", b"-1", b"99999999999999999999999", b"1, 2"],
)
def test_http_api_answers_400_to_a_malformed_content_length(http_api: HttpApiGateway, length: bytes) -> None:
    # GIVEN a request whose Content-Length is not a length
    request = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: " + length
    # WHEN it is sent THEN the gateway answers 400 at once (no dropped connection, no hung thread)
    response = _raw_request(http_api, request + b"\r\nConnection: close\r\n\r\nhello")
    assert response.startswith(b"HTTP/1.1 400"), response[:80]


def test_http_api_reads_a_chunked_body_whole(http_api: HttpApiGateway) -> None:
    # GIVEN a body sent in chunks (Transfer-Encoding: chunked, no Content-Length)
    body = FACE_JPEG.read_bytes()
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(part), part)
        for part in (body[i : i + 4096] for i in range(0, len(body), 4096))
    )
    request = (
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks + b"0\r\n\r\n"
    )
    # WHEN it is sent THEN the app receives all of it
    response = _raw_request(http_api, request)
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert json.loads(payload)["sha256"] == hashlib.sha256(body).hexdigest()


def test_http_api_event_is_payload_v2(local_stack: LocalStack) -> None:
    # GIVEN a handler that keeps its event
    events: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], _context: Any) -> dict[str, str]:
        events.append(event)
        return {"echo": event["rawPath"]}

    gateway = local_stack.http_api({"ApiFunction": handler}).start()
    try:
        # WHEN a JSON body is posted with a query string and cookies
        with httpx.Client(base_url=gateway.url) as client:
            response = client.post(
                "/students/1MS21CS001?x=1&x=2&y=",
                json={"name": "Asha"},
                headers={"cookie": "a=1; b=2", "x-trace": "t1"},
            )
    finally:
        gateway.stop()
    # THEN the handler got API Gateway's v2 event, and a dict without statusCode became a 200 JSON body
    assert (response.status_code, response.json()) == (200, {"echo": "/students/1MS21CS001"})
    event = APIGatewayProxyEventV2Model.model_validate(events[0])
    assert (event.version, event.routeKey, event.rawQueryString) == ("2.0", "$default", "x=1&x=2&y=")
    assert event.queryStringParameters == {"x": "1,2", "y": ""}
    assert event.cookies == ["a=1", "b=2"]
    assert event.headers["x-trace"] == "t1" and "cookie" not in event.headers
    assert event.requestContext.http.method == "POST"
    assert event.requestContext.http.sourceIp is not None
    assert (event.isBase64Encoded, json.loads(event.body or "")) == (False, {"name": "Asha"})


def test_http_api_answers_500_when_the_handler_raises(local_stack: LocalStack) -> None:
    # GIVEN a handler that raises
    def handler(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    gateway = local_stack.http_api({"ApiFunction": handler}).start()
    try:
        # WHEN it is called
        response = httpx.get(f"{gateway.url}/anything")
    finally:
        gateway.stop()
    # THEN API Gateway's answer comes back, with no detail of the failure
    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})


# --- the template itself ----------------------------------------------------------------------------


def test_template_passes_cfn_lint() -> None:
    # GIVEN template.yaml
    # WHEN cfn-lint checks it (it runs the LanguageExtensions and SAM transforms first)
    matches = lint_file(DEFAULT_TEMPLATE_PATH)
    # THEN it reports nothing
    assert [str(match) for match in matches] == []


def test_a_crashed_workers_handoff_claim_lapses_before_its_message_returns() -> None:
    # GIVEN the template's defaults
    document = load_template_document(DEFAULT_TEMPLATE_PATH)
    defaults = {name: spec.get("Default") for name, spec in document["Parameters"].items()}
    function_timeout = document["Globals"]["Function"]["Timeout"]
    # THEN a handoff claim lasts as long as a function may run, and lapses before the queue hands
    # the message of a crashed worker to the next one (which then publishes the handoff)
    lease = int(defaults["HandoffPublishLeaseSeconds"])
    assert function_timeout <= lease < int(defaults["QueueVisibilityTimeout"])


# --- the up command ---------------------------------------------------------------------------------


def _migrated_tables(database_url: str) -> set[str]:
    engine = sa.create_engine(database_url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("stop_signal", "database", "options"),
    [
        # The first runs the functions' real handlers (slow imports); the others only provision.
        pytest.param(signal.SIGINT, "sqlite", [], id="ctrl-c-sqlite-functions"),
        pytest.param(signal.SIGTERM, "sqlite", ["--no-functions"], id="sigterm-sqlite"),
        pytest.param(
            signal.SIGINT, "mariadb", ["--no-functions"], id="ctrl-c-mariadb", marks=pytest.mark.mariadb
        ),
    ],
)
def test_up_command_serves_then_stops_cleanly(
    tmp_path: Path, stop_signal: signal.Signals, database: str, options: list[str]
) -> None:
    # GIVEN a free port and a database that does not exist yet
    port, api_port, portal_port = free_port(), free_port(), free_port()
    if database == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'var' / 'classsight.db'}"
    else:
        database_url = f"{MYSQL_SERVER_URL.rstrip('/')}/classsight_up_{uuid.uuid4().hex[:12]}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infra.local_stack",
            "up",
            "--port",
            str(port),
            "--database-url",
            database_url,
            "--api-port",
            str(api_port),
            "--portal-port",
            str(portal_port),
            *options,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        # WHEN it reports ready
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Local stack ready"):
                break
        output = "".join(lines)
        assert re.search(rf"CLASSSIGHT_AWS_ENDPOINT_URL=http://127\.0\.0\.1:{port}", output), output
        assert "CLASSSIGHT_BUCKET_NAME=" in output
        assert not port_is_free(port)
        assert ("polling" in output) == (not options)
        # (the template's schedules run on a timer: the absent sweep among them)
        assert ("schedule SweepFunction.AbsentSweep: rate(5 minutes)" in output) == (not options), output
        # (the HTTP API is served when the API function's handler imports)
        api_served = f"http://127.0.0.1:{api_port}" in output
        assert api_served == (not port_is_free(api_port))
        # (with functions, the API runs with an admin token made for this run)
        assert api_served == (not options) == ("admin token for this run" in output)
        assert f"Web portal: http://127.0.0.1:{portal_port}/" in output and not port_is_free(portal_port)
        # AND it is interrupted (Ctrl-C) or terminated
        process.send_signal(stop_signal)
        return_code = process.wait(timeout=30)
        # THEN it exits cleanly, its database was created and migrated, and nothing listens on the port
        assert return_code == 0
        assert {"students", "attendance", "alembic_version"} <= _migrated_tables(database_url)
        assert port_is_free(port) and port_is_free(api_port) and port_is_free(portal_port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if database == "mariadb":
            server = sa.create_engine(MYSQL_SERVER_URL)
            with server.begin() as connection:
                connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{database_url.rsplit('/', 1)[-1]}`"))
            server.dispose()


def test_up_command_on_a_busy_port_fails_with_a_clear_message(tmp_path: Path) -> None:
    # GIVEN a port something else already listens on
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # WHEN the local stack is asked to start there
        database_url = f"sqlite:///{tmp_path / 'classsight.db'}"
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "infra.local_stack",
                "up",
                "--port",
                str(port),
                "--database-url",
                database_url,
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    # THEN it refuses with the reason and exit code 2
    assert completed.returncode == 2
    assert f"port {port}" in completed.stderr and "in use" in completed.stderr
