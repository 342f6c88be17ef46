"""cam1 on the project's local stack: captures land in the template's bucket and notify its queue."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from edge_client.cam1.app import Cam1Runner
from edge_client.cam1.replay import one_photo_per_person, write_doorway_replay
from edge_client.cam1.settings import Cam1Settings
from edge_client.settings import load_edge_settings
from tests.conftest import DATA_DIR

LFW_KNOWN = DATA_DIR / "faces" / "lfw_subset" / "known"


def test_captures_reach_the_face_captures_queue(
    clean_local_stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = clean_local_stack
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name, value in stack.env().items():
        monkeypatch.setenv(name, value)
    # GIVEN cam1 configured from the stack's edge environment, replaying 3 people at the door
    folder = tmp_path / "frames"
    write_doorway_replay(folder, one_photo_per_person(LFW_KNOWN)[:3], fps=10.0, hold_s=3.0)
    settings = load_edge_settings(
        Cam1Settings,
        room_id="R101",
        camera_id="door-1",
        source=str(folder),
        realtime=False,
        outbox_path=tmp_path / "outbox.sqlite3",
    )
    captured: list[str] = []
    # WHEN it runs
    summary = Cam1Runner(
        settings, drain_on_exit_s=20, on_capture=lambda _d, c: captured.append(c.object_key)
    ).run()
    assert summary.captures == 3 and summary.pending == 0
    # THEN each capture raises an ObjectCreated event on the queue that feeds face_match
    sqs = stack.client("sqs")
    queue_url = stack.queue_url("FaceCapturesQueue")
    notified: set[str] = set()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and notified != set(captured):
        reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in reply.get("Messages", []):
            body = json.loads(message["Body"])
            for record in body.get("Records", []):
                # S3 event notifications URL-encode the key, on AWS as here
                notified.add(unquote_plus(record["s3"]["object"]["key"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert notified == set(captured)
