"""What survives a crash on the local stack, and what makes up for what does not.

- The function host (the process running the pollers) killed with SIGKILL in the middle of a
  batch loses nothing: its messages stay in the endpoint's queues, and a restarted host processes
  each of them, once, on the durable database.
- The endpoint itself keeps its bucket and queues in memory: killed, it forgets them. The edge
  outbox keeps what it uploaded until its objects are confirmed, so after the endpoint is back
  (empty, provisioned again) the captures are uploaded again and nothing is lost.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.engine import create_engine
from cloud_functions.core.db.schema import attendance, handoffs, recognition_events
from cloud_functions.core.faces import FacePipeline, FaceprintRepository, FaceRejectedError
from cloud_functions.core.settings import FaceModelSettings
from edge_client.outbox import Outbox, OutboxUploader, S3ObjectStore
from infra.local_stack import LocalStack, MotoEndpoint, local_parameter_overrides
from infra.local_stack.endpoint import free_port
from infra.local_stack.host import FunctionHostProcess
from infra.migrations import upgrade
from infra.seed import Slot, lfw_people, seed_campus, seed_students
from tests.conftest import DATA_DIR

LFW = DATA_DIR / "faces" / "lfw_subset"
PEOPLE = lfw_people(LFW)


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # The captures are LFW photos (stills): liveness records, it does not refuse (counted here are
    # the handoffs of recognised captures).
    monkeypatch.setenv("CLASSSIGHT_LIVENESS_MODE", "record_only")


# Killed messages come back after 3 s; a claim on a handoff left by the killed host has lapsed by
# then (the lease stays below the visibility timeout, as in the template).
FAST_REDELIVERY = {"QueueVisibilityTimeout": "3", "HandoffPublishLeaseSeconds": "2"}


def _provision(endpoint_url: str, database_url: str, **parameters: str) -> LocalStack:
    return LocalStack.provision(
        endpoint_url,
        parameter_overrides=local_parameter_overrides(database_url, stage="durable", **parameters),
        stack_name="classsight-durable",
    )


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


@pytest.fixture
def campus(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A SQLite campus where CS501 runs in R101 all day today, the LFW people enrolled."""
    database_url = f"sqlite:///{tmp_path / 'classsight.db'}"
    upgrade(database_url)
    engine = create_engine(database_url)
    today = datetime.now(ZoneInfo("Asia/Kolkata"))
    seed_campus(engine, [Slot("CS501", "R101", today.weekday(), clock_time(0, 0), clock_time(23, 59))])
    seed_students(engine, PEOPLE)
    pipeline = FacePipeline.from_settings(FaceModelSettings())
    repository = FaceprintRepository(engine)
    for person in PEOPLE:
        for photo in person.photos[:4]:
            try:
                analysis = pipeline.analyse(photo.read_bytes(), "enroll")
            except FaceRejectedError:
                continue
            repository.save(person.usn, photo.stem, analysis.model_id, analysis.embedding)
    yield database_url, engine
    engine.dispose()


def function_host(endpoint_url: str, database_url: str, log: Path) -> FunctionHostProcess:
    """Only the pollers, in a child process (``python -m infra.local_stack up --endpoint-url``)."""
    return FunctionHostProcess(endpoint_url, database_url, log, stage="durable", parameters=FAST_REDELIVERY)


def test_a_function_host_killed_mid_batch_loses_and_doubles_nothing(
    campus: tuple[str, Engine], tmp_path: Path, aws_credentials: None
) -> None:
    database_url, engine = campus
    with MotoEndpoint() as endpoint:
        stack = _provision(endpoint.endpoint_url, database_url, **FAST_REDELIVERY)
        host = function_host(endpoint.endpoint_url, database_url, tmp_path / "host.log")
        host.start()
        try:
            # GIVEN two door captures of every student, put while the host processes them
            s3 = stack.client("s3")
            keys = []
            now = datetime.now(UTC)
            for person in PEOPLE:
                for photo in person.photos[-2:]:
                    capture_id = str(uuid.uuid4())
                    key = f"captures/faces/R101/{now.date().isoformat()}/{capture_id}.jpg"
                    metadata = {
                        "room_id": "R101",
                        "camera_id": "R101-door",
                        "captured_at": now.isoformat(),
                        "capture_id": capture_id,
                    }
                    s3.put_object(
                        Bucket=stack.bucket_name, Key=key, Body=photo.read_bytes(), Metadata=metadata
                    )
                    keys.append(key)
            # WHEN the host is killed (SIGKILL) after a few are done, then started again
            deadline = time.monotonic() + 60
            while _count(engine, recognition_events) < 3:
                assert time.monotonic() < deadline, "nothing was processed"
                time.sleep(0.05)
            host.kill()
            done_before = _count(engine, recognition_events)
            host.start()
            deadline = time.monotonic() + 120
            while _count(engine, recognition_events) < len(keys):
                assert time.monotonic() < deadline, (done_before, _count(engine, recognition_events))
                time.sleep(0.2)
        finally:
            host.stop()

        # THEN every capture has exactly one event and one handoff, every student one attendance
        # row, every handoff reached R101 (at least once), and nothing went to a dead-letter queue
        assert done_before < len(keys)
        with engine.connect() as connection:
            events = connection.execute(sa.select(recognition_events.c.object_key)).scalars().all()
        assert sorted(events) == sorted(keys)
        assert _count(engine, attendance) == len(PEOPLE)
        assert _count(engine, handoffs) == len(keys)
        sqs = stack.client("sqs")
        received: set[str] = set()
        while messages := sqs.receive_message(
            QueueUrl=stack.room_queue_url("R101"), MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            for message in messages:
                received.add(message["Body"])
                sqs.delete_message(
                    QueueUrl=stack.room_queue_url("R101"), ReceiptHandle=message["ReceiptHandle"]
                )
        assert len({body.split('"capture_id":"')[1].split('"')[0] for body in received}) == len(keys)
        dlq = sqs.get_queue_attributes(
            QueueUrl=stack.dlq_url("FaceCapturesQueue"), AttributeNames=["ApproximateNumberOfMessages"]
        )
        assert dlq["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_the_edge_outbox_uploads_again_what_a_killed_endpoint_lost(
    tmp_path: Path, aws_credentials: None
) -> None:
    # GIVEN five captures uploaded through the edge outbox to the local stack's bucket
    port = free_port()
    database_url = f"sqlite:///{tmp_path / 'unused.db'}"
    endpoint = MotoEndpoint(port).start()
    stack = _provision(endpoint.endpoint_url, database_url)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    store = S3ObjectStore(stack.bucket_name, endpoint_url=endpoint.endpoint_url, timeout_s=2.0)
    uploader = OutboxUploader(outbox, store, retry_initial_s=0.1, retry_max_s=0.5, verify_interval_s=0.5)
    keys = [f"captures/faces/R101/2026-12-01/{uuid.uuid4()}.jpg" for _ in range(5)]
    for key in keys:
        outbox.put(key, b"jpeg " + key.encode(), {"room_id": "R101"})
    uploader.start()
    try:
        assert uploader.drain(20)

        def stored() -> set[str]:
            listing = stack.client("s3").list_objects_v2(Bucket=stack.bucket_name)
            return {item["Key"] for item in listing.get("Contents", [])}

        assert stored() == set(keys)

        # WHEN the endpoint is killed and a new, empty one is provisioned in its place
        endpoint.stop()
        endpoint = MotoEndpoint(port).start()
        stack = _provision(endpoint.endpoint_url, database_url)

        # THEN the outbox finds its objects gone and uploads them again
        deadline = time.monotonic() + 20
        while stored() != set(keys):
            assert time.monotonic() < deadline, outbox.stats()
            time.sleep(0.1)
        assert outbox.stats().reuploaded == 5 and outbox.stats().pending == 0
    finally:
        uploader.stop()
        outbox.close()
        endpoint.stop()
