"""``python -m edge_client.cam1`` as a process: help, clear errors, web preview, stop on SIGTERM/SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import cv2
import numpy as np
import pytest

from edge_client.cam1.replay import one_photo_per_person, write_doorway_replay
from edge_client.cam1.settings import Cam1Settings
from edge_client.outbox import Outbox
from tests.conftest import DATA_DIR
from tests.integration.test_cam1_upload import RestartableS3

LFW_KNOWN = DATA_DIR / "faces" / "lfw_subset" / "known"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSSIGHT_")}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    env.update(extra)
    return env


def _cam1(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_client.cam1", *args],
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def s3_bucket() -> Iterator[tuple[RestartableS3, str]]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    server = RestartableS3()
    server.start()
    bucket = f"cam1-cli-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket)
    yield server, bucket
    server.stop()


def test_help_explains_every_setting(tmp_path: Path) -> None:
    result = _cam1("--help", cwd=tmp_path)
    assert result.returncode == 0
    for name, field in Cam1Settings.model_fields.items():
        assert f"CLASSSIGHT_{name.upper()}" in result.stdout
        assert field.description and field.description.split()[0] in result.stdout
    for flag in ("--source", "--room", "--camera", "--bucket", "--endpoint-url", "--config", "--preview"):
        assert flag in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--source", "/no/such/clip.mp4"], {}, "is not a camera index, a stream URL, a file or a folder"),
        (["--source", "0", "--stable-s", "100"], {}, "CLASSSIGHT_STABLE_S"),
        ([], {"CLASSSIGHT_MIN_IOU": "1.5"}, "CLASSSIGHT_MIN_IOU"),
    ],
)
def test_bad_settings_or_sources_exit_2_with_a_clear_message(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    base = [
        "--room",
        "R101",
        "--camera",
        "door-1",
        "--bucket",
        "cam1-bucket",
        "--outbox",
        str(tmp_path / "o.db"),
    ]
    result = _cam1(*base, *args, cwd=tmp_path, env=_env(**env))
    assert result.returncode == 2
    assert message in result.stderr


def test_a_corrupt_frame_stops_the_client_with_the_file_named(
    tmp_path: Path, s3_bucket: tuple[RestartableS3, str]
) -> None:
    server, bucket = s3_bucket
    # GIVEN a replay folder whose 6th frame is not an image
    folder = tmp_path / "frames"
    write_doorway_replay(folder, one_photo_per_person(LFW_KNOWN)[:1], fps=10.0, hold_s=1.0)
    (folder / "000005.jpg").write_bytes(b"garbage, not a jpeg")
    # WHEN cam1 replays it THEN it exits 2 and names the frame
    result = _cam1(
        *("--source", str(folder), "--room", "R101", "--camera", "door-1", "--bucket", bucket),
        *("--endpoint-url", server.endpoint_url, "--no-realtime", "--outbox", str(tmp_path / "o.db")),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "corrupt or unreadable image" in result.stderr and "000005.jpg" in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_yaml_settings_web_preview_and_clean_stop_on_signal(
    tmp_path: Path, s3_bucket: tuple[RestartableS3, str], stop_signal: signal.Signals
) -> None:
    server, bucket = s3_bucket
    folder = tmp_path / "frames"
    write_doorway_replay(folder, one_photo_per_person(LFW_KNOWN)[:4], fps=10.0, hold_s=3.0)
    port = _free_port()
    config = tmp_path / "cam1.yaml"
    config.write_text(
        f"room_id: R202\ncamera_id: door-2\nbucket_name: {bucket}\naws_endpoint_url: {server.endpoint_url}\n"
        f"preview: web\npreview_port: {port}\nstable_s: 1.5\nretry_initial_s: 0.1\nretry_max_s: 0.5\n"
    )
    outbox_path = tmp_path / "outbox.sqlite3"
    # GIVEN cam1 replaying 4 people in real time with settings from YAML and a web preview
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "edge_client.cam1", "--config", str(config), "--source", str(folder)),
            *("--fps", "10", "--outbox", str(outbox_path)),
        ],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        client = boto3.client("s3", endpoint_url=server.endpoint_url, region_name="us-east-1")
        deadline = time.monotonic() + 30
        keys: list[str] = []
        while time.monotonic() < deadline and not keys:
            assert process.poll() is None, process.communicate()[1]
            time.sleep(0.2)
            keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
        # THEN the first person is uploaded under the YAML's room while the replay still runs
        assert keys and all(k.startswith("captures/faces/R202/") for k in keys)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/snapshot.jpg", timeout=5) as response:
            assert response.headers["Content-Type"] == "image/jpeg"
            snapshot = cv2.imdecode(np.frombuffer(response.read(), np.uint8), cv2.IMREAD_COLOR)
        assert snapshot is not None and snapshot.shape == (480, 640, 3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert b"/stream.mjpg" in response.read()
        # WHEN it gets the signal mid-replay
        process.send_signal(stop_signal)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    # THEN it stops cleanly: exit 0, nothing left pending, the port released
    assert process.returncode == 0, stderr
    assert f"{stop_signal.name} received" in stderr and "(stopped)" in stdout
    outbox = Outbox(outbox_path)
    stats = outbox.stats()
    outbox.close()
    assert stats.pending == 0 and stats.uploaded >= 1
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
