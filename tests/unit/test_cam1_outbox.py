"""The durable outbox and its uploader: persistence, bounds, backoff, resume.

The uploader runs against a small in-memory store that can be switched off; the real S3 path is
covered in tests/integration/test_cam1_upload.py against a local S3 endpoint.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from edge_client.outbox import Outbox, OutboxError, OutboxUploader, S3ObjectStore, UploadError, backoff_delay


class SwitchableStore:
    """In-memory object store that refuses uploads while ``down`` is set."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, dict[str, str], str]] = {}
        self.down = threading.Event()
        self.failures = 0

    def put(self, key: str, body: bytes, metadata: dict[str, str], content_type: str) -> None:
        if self.down.is_set():
            self.failures += 1
            raise UploadError(f"endpoint down for {key}")
        self.objects[key] = (body, metadata, content_type)

    def exists(self, key: str) -> bool:
        if self.down.is_set():
            raise UploadError("endpoint down")
        return key in self.objects


def _put(outbox: Outbox, n: int, start: int = 0) -> list[str]:
    keys = [f"captures/faces/R101/2026-11-24/{i:04d}.jpg" for i in range(start, start + n)]
    for i, key in zip(range(start, start + n), keys, strict=True):
        outbox.put(key, f"jpeg-{i}".encode(), {"capture_id": f"{i:04d}"})
    return keys


def test_items_survive_closing_and_reopening_the_file(tmp_path: Path) -> None:
    # GIVEN three captures written to the outbox and the client stopped
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    keys = _put(outbox, 3)
    outbox.close()
    # WHEN it is reopened THEN they are pending, oldest first, bytes and metadata intact
    reopened = Outbox(tmp_path / "outbox.sqlite3")
    item = reopened.oldest()
    assert reopened.stats().pending == 3
    assert item is not None and item.object_key == keys[0]
    assert (
        item.body == b"jpeg-0"
        and item.metadata == {"capture_id": "0000"}
        and item.content_type == "image/jpeg"
    )
    assert reopened.changed.is_set()
    reopened.close()


@pytest.mark.parametrize(
    ("max_items", "written", "pending", "dropped"), [(5, 3, 3, 0), (5, 5, 5, 0), (5, 12, 5, 7), (1, 4, 1, 3)]
)
def test_a_full_outbox_drops_the_oldest_and_counts_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, max_items: int, written: int, pending: int, dropped: int
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3", max_items=max_items)
    keys = _put(outbox, written)
    stats = outbox.stats()
    assert (stats.pending, stats.dropped) == (pending, dropped)
    oldest = outbox.oldest()
    assert oldest is not None and oldest.object_key == keys[written - pending]
    assert ("outbox full" in caplog.text) == (dropped > 0)
    outbox.close()


def test_uploader_drains_in_order_and_counts(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    keys = _put(outbox, 4)
    store = SwitchableStore()
    uploaded: list[str] = []
    uploader = OutboxUploader(outbox, store, on_uploaded=lambda item: uploaded.append(item.object_key))
    uploader.start()
    assert uploader.drain(10.0)
    uploader.stop()
    assert uploaded == keys and set(store.objects) == set(keys)
    assert store.objects[keys[0]] == (b"jpeg-0", {"capture_id": "0000"}, "image/jpeg")
    assert outbox.stats().uploaded == 4 and outbox.stats().pending == 0
    assert uploader.last_status is not None and uploader.last_status.ok
    outbox.close()


def test_an_outage_backs_off_and_loses_nothing(tmp_path: Path) -> None:
    # GIVEN the store is down while captures arrive
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    store = SwitchableStore()
    store.down.set()
    uploader = OutboxUploader(outbox, store, retry_initial_s=0.02, retry_max_s=0.2)
    uploader.start()
    keys = _put(outbox, 5)
    time.sleep(0.5)
    # THEN attempts fail with growing waits, the status says so, and nothing is lost
    assert store.failures >= 2 and outbox.stats().pending == 5
    assert uploader.last_status is not None and not uploader.last_status.ok
    # WHEN the store comes back THEN every capture arrives
    store.down.clear()
    assert uploader.drain(10.0)
    uploader.stop()
    assert set(store.objects) == set(keys)
    # attempts stayed bounded by the backoff (0.5 s of outage, >= 20 ms apart, doubling to 200 ms)
    assert store.failures <= 10
    outbox.close()


def test_stop_leaves_pending_items_for_the_next_start(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    store = SwitchableStore()
    store.down.set()
    uploader = OutboxUploader(outbox, store, retry_initial_s=5.0, retry_max_s=5.0)
    uploader.start()
    _put(outbox, 2)
    time.sleep(0.2)
    started = time.monotonic()
    uploader.stop()
    # the 5 s backoff wait is interrupted by stop
    assert time.monotonic() - started < 2.0
    assert outbox.stats().pending == 2
    outbox.close()


@pytest.mark.parametrize(
    ("failures", "initial_s", "max_s", "expected_s"),
    [
        (1, 1.0, 60.0, 1.0),
        (2, 1.0, 60.0, 2.0),
        (4, 1.0, 60.0, 8.0),
        (10, 1.0, 60.0, 60.0),
        (3, 0.5, 1.0, 1.0),
    ],
)
def test_backoff_doubles_up_to_the_cap_with_jitter(
    failures: int, initial_s: float, max_s: float, expected_s: float
) -> None:
    delays = [backoff_delay(failures, initial_s, max_s, jitter=0.2) for _ in range(50)]
    assert all(expected_s * 0.8 <= d <= expected_s * 1.2 for d in delays)
    assert backoff_delay(failures, initial_s, max_s, jitter=0.0) == expected_s


def test_an_unwritable_outbox_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the outbox folder should be")
    with pytest.raises(OutboxError, match="cannot open outbox"):
        Outbox(blocker / "outbox.sqlite3")


def test_s3_store_without_credentials_fails_at_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # GIVEN no credentials anywhere in the SDK's chain
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # THEN the store refuses to start instead of failing every upload forever
    with pytest.raises(UploadError, match="no AWS credentials found"):
        S3ObjectStore("cam1-bucket", endpoint_url="http://127.0.0.1:9")


def test_uploaded_items_are_kept_and_uploaded_again_when_their_objects_vanish(tmp_path: Path) -> None:
    # GIVEN captures uploaded to a store
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    store = SwitchableStore()
    uploader = OutboxUploader(outbox, store, keep_uploaded_s=600, verify_interval_s=0.1)
    keys = _put(outbox, 3)
    uploader.start()
    assert uploader.drain(10.0)
    assert outbox.stats().kept == 3 and outbox.stats().pending == 0

    # WHEN the store loses them (an in-memory endpoint restarted empty)
    store.objects.clear()

    # THEN the periodic check notices and they are uploaded again, each once
    deadline = time.monotonic() + 10
    while set(store.objects) != set(keys) and time.monotonic() < deadline:
        time.sleep(0.05)
    uploader.stop()
    assert set(store.objects) == set(keys)
    assert outbox.stats().reuploaded == 3 and outbox.stats().pending == 0
    outbox.close()


def test_a_check_that_finds_the_newest_object_looks_no_further(tmp_path: Path) -> None:
    # GIVEN three uploaded captures of which only the oldest has gone missing
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    store = SwitchableStore()
    uploader = OutboxUploader(outbox, store)
    keys = _put(outbox, 3)
    while (item := outbox.oldest()) is not None:
        uploader.upload_one(item)
    del store.objects[keys[0]]
    # WHEN the periodic check runs THEN one HEAD of the newest finds it, and nothing is re-queued
    assert uploader.verify_uploaded() == 0 and outbox.stats().pending == 0
    # AND a full check (after a reconnect) finds the missing one
    assert uploader.verify_uploaded(everything=True) == 1
    assert outbox.oldest() is not None and outbox.oldest().object_key == keys[0]  # type: ignore[union-attr]
    outbox.close()


def test_kept_items_are_forgotten_after_the_window_and_make_room_first(tmp_path: Path) -> None:
    # GIVEN an outbox for 3 items holding 3 uploaded ones
    outbox = Outbox(tmp_path / "outbox.sqlite3", max_items=3)
    uploader = OutboxUploader(outbox, SwitchableStore(), keep_uploaded_s=0.0)
    _put(outbox, 3)
    while (item := outbox.oldest()) is not None:
        uploader.upload_one(item)
    # WHEN new captures arrive THEN kept items give way before any pending one is dropped
    _put(outbox, 3, start=3)
    assert outbox.stats().pending == 3 and outbox.stats().dropped == 0
    # AND once the window has passed the kept items are gone
    while (item := outbox.oldest()) is not None:
        uploader.upload_one(item)
    assert outbox.prune_uploaded(older_than_s=0.0) == 3 and outbox.stats().kept == 0
    outbox.close()


def test_an_outbox_file_of_the_earlier_format_opens_with_its_items(tmp_path: Path) -> None:
    # GIVEN a file written before uploaded items were kept (no uploaded_at column)
    import sqlite3

    path = tmp_path / "outbox.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, object_key TEXT NOT NULL UNIQUE,"
            " body BLOB NOT NULL, metadata TEXT NOT NULL, content_type TEXT NOT NULL,"
            " created_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT);"
            "INSERT INTO outbox (object_key, body, metadata, content_type, created_at)"
            " VALUES ('captures/faces/R101/d/x.jpg', x'ff', '{}', 'image/jpeg', '2026-11-24T09:00:00+00:00');"
        )
    # WHEN it is opened THEN the pending item is there to upload
    outbox = Outbox(path)
    assert outbox.stats().pending == 1 and outbox.oldest() is not None
    outbox.close()
