"""A durable local outbox: nothing captured is lost while the network or the bucket is down.

A capture is written to SQLite first (body bytes included), then an :class:`OutboxUploader`
thread uploads the oldest pending item through an :class:`ObjectStore` and deletes it once the
store has accepted it. Failures back off exponentially (with jitter, capped); a restarted client
finds its pending items in the file and resumes. The outbox is bounded: when full, the oldest
pending item is dropped with a warning and counted, so a long outage cannot fill the disk.

Uploads are idempotent (same key, same bytes), so an item whose upload succeeded just before a
crash and is uploaded again after the restart does no harm.
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)


class OutboxError(Exception):
    """The outbox file cannot be opened or written."""


class UploadError(Exception):
    """The object store refused or failed an upload; the item stays pending and is retried."""


class ObjectStore(Protocol):
    """Where outbox items go (S3 or an S3-compatible local endpoint)."""

    def put(self, key: str, body: bytes, metadata: dict[str, str], content_type: str) -> None:
        """Store ``body`` under ``key``; raise ``UploadError`` on any failure."""
        ...


class S3ObjectStore:
    """``ObjectStore`` on S3 or an S3-compatible endpoint.

    The SDK's own retries are kept to one attempt: the outbox owns retrying, so an outage shows
    up at once in the operator view instead of hiding inside a long SDK backoff.
    """

    def __init__(
        self, bucket: str, *, endpoint_url: str = "", region: str = "us-east-1", timeout_s: float = 10.0
    ):
        self.bucket = bucket
        session = boto3.session.Session(region_name=region)
        if session.get_credentials() is None:
            # Without this check every upload would fail and be retried forever.
            raise UploadError(
                "no AWS credentials found (environment, profile or instance role); for a local "
                "endpoint set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to any value"
            )
        self._client = session.client(
            "s3",
            endpoint_url=endpoint_url or None,
            config=Config(
                connect_timeout=timeout_s,
                read_timeout=timeout_s,
                retries={"max_attempts": 1, "mode": "standard"},
                # Local endpoints (localhost, 127.0.0.1) do not resolve bucket subdomains.
                s3={"addressing_style": "path" if endpoint_url else "auto"},
            ),
        )

    def put(self, key: str, body: bytes, metadata: dict[str, str], content_type: str) -> None:
        """Upload one object; SDK and HTTP errors become ``UploadError``."""
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=body, Metadata=metadata, ContentType=content_type
            )
        except (BotoCoreError, ClientError) as e:
            raise UploadError(f"upload of s3://{self.bucket}/{key} failed: {e}") from e


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One pending upload."""

    item_id: int
    object_key: str
    body: bytes
    metadata: dict[str, str]
    content_type: str
    created_at: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Counts for the operator view and logs.

    Attributes:
        pending: items waiting to upload.
        uploaded: items uploaded since the file was created.
        dropped: items dropped because the outbox was full, since the file was created.
    """

    pending: int
    uploaded: int
    dropped: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    object_key TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL,
    metadata TEXT NOT NULL,
    content_type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS outbox_counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO outbox_counters (name, value) VALUES ('uploaded', 0), ('dropped', 0);
"""


class Outbox:
    """SQLite-backed queue of uploads, safe to share between the capture and uploader threads.

    Args:
        path: the SQLite file (created with its folder if missing).
        max_items: most pending items; the oldest beyond it are dropped and counted.
    """

    def __init__(self, path: Path, max_items: int = 1000) -> None:
        if max_items < 1:
            raise OutboxError(f"max_items must be >= 1, got {max_items}")
        self.path = path
        self.max_items = max_items
        self._lock = threading.Lock()
        self.changed = threading.Event()
        """Set whenever an item is added; the uploader waits on it."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            # FULL: a capture acknowledged by put() survives a power cut, not only a crash.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as e:
            raise OutboxError(f"cannot open outbox {path}: {e}") from e
        if self.stats().pending:
            self.changed.set()
            logger.info("outbox %s resumes with %d pending upload(s)", path, self.stats().pending)

    def put(
        self, object_key: str, body: bytes, metadata: dict[str, str], content_type: str = "image/jpeg"
    ) -> int:
        """Store an upload durably; return its item id. Drops the oldest items if full."""
        created_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    pending = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
                    overflow = pending - self.max_items + 1
                    if overflow > 0:
                        self._db.execute(
                            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)",
                            (overflow,),
                        )
                        self._db.execute(
                            "UPDATE outbox_counters SET value = value + ? WHERE name = 'dropped'", (overflow,)
                        )
                    cursor = self._db.execute(
                        "INSERT INTO outbox (object_key, body, metadata, content_type, created_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (object_key, body, json.dumps(metadata), content_type, created_at),
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except sqlite3.Error as e:
            raise OutboxError(f"cannot write {object_key} to outbox {self.path}: {e}") from e
        if overflow > 0:
            logger.warning(
                "outbox full (%d items): dropped the %d oldest pending upload(s); %d dropped in total",
                self.max_items,
                overflow,
                self.stats().dropped,
            )
        self.changed.set()
        item_id = cursor.lastrowid
        assert item_id is not None
        return item_id

    def oldest(self) -> OutboxItem | None:
        """The oldest pending item, or ``None`` when empty."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, object_key, body, metadata, content_type, created_at, attempts "
                "FROM outbox ORDER BY id LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        return OutboxItem(
            item_id=row[0],
            object_key=row[1],
            body=bytes(row[2]),
            metadata=json.loads(row[3]),
            content_type=row[4],
            created_at=datetime.fromisoformat(row[5]),
            attempts=row[6],
        )

    def mark_done(self, item_id: int) -> None:
        """Remove an uploaded item and count it."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            deleted = self._db.execute("DELETE FROM outbox WHERE id = ?", (item_id,)).rowcount
            self._db.execute(
                "UPDATE outbox_counters SET value = value + ? WHERE name = 'uploaded'", (deleted,)
            )
            self._db.execute("COMMIT")

    def mark_failed(self, item_id: int, error: str) -> None:
        """Record a failed attempt; the item stays pending."""
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error[:500], item_id),
            )

    def stats(self) -> OutboxStats:
        """Pending, uploaded and dropped counts."""
        with self._lock:
            pending = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            counters = dict(self._db.execute("SELECT name, value FROM outbox_counters").fetchall())
        return OutboxStats(pending=pending, uploaded=counters["uploaded"], dropped=counters["dropped"])

    def close(self) -> None:
        """Close the file; pending items stay in it for the next start."""
        with self._lock:
            self._db.close()


@dataclass(frozen=True, slots=True)
class UploadStatus:
    """Outcome of the latest upload attempt, for the operator view.

    Attributes:
        ok: whether it succeeded.
        object_key: the key it was for.
        at: UTC time of the attempt's end.
        error: the failure, when not ok.
        retry_in_s: wait before the next attempt, when not ok.
    """

    ok: bool
    object_key: str
    at: datetime
    error: str = ""
    retry_in_s: float = 0.0


def backoff_delay(failures: int, initial_s: float, max_s: float, jitter: float = 0.2) -> float:
    """Exponential backoff after ``failures`` consecutive failures (>= 1), capped, +/- ``jitter``."""
    base = min(max_s, initial_s * 2.0 ** (failures - 1))
    return base * (1.0 + random.uniform(-jitter, jitter))


class OutboxUploader:
    """Background thread that drains an :class:`Outbox` into an :class:`ObjectStore`, oldest first.

    Args:
        outbox: the durable queue.
        store: where items go.
        retry_initial_s: wait after the first failure; doubles per consecutive failure.
        retry_max_s: cap on that wait. Lower recovers sooner after an outage, polls a dead
            endpoint more often.
        on_uploaded: called (in the uploader thread) with each item once stored.
    """

    def __init__(
        self,
        outbox: Outbox,
        store: ObjectStore,
        *,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 60.0,
        on_uploaded: Callable[[OutboxItem], None] | None = None,
    ) -> None:
        self._outbox = outbox
        self._store = store
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._on_uploaded = on_uploaded
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0
        self.last_status: UploadStatus | None = None

    def start(self) -> None:
        """Start the uploader thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="outbox-uploader", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the attempt in progress; pending items stay in the outbox."""
        self._stop.set()
        self._outbox.changed.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.warning(
                    "uploader still busy after %.0f s; leaving it (its item stays pending)", timeout_s
                )
            self._thread = None

    def drain(self, timeout_s: float) -> bool:
        """Wait until the outbox is empty (or ``timeout_s`` passes); return whether it is."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._outbox.stats().pending == 0:
                return True
            time.sleep(0.05)
        return self._outbox.stats().pending == 0

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._outbox.oldest()
            if item is None:
                self._outbox.changed.wait(1.0)
                self._outbox.changed.clear()
                continue
            self.upload_one(item)

    def upload_one(self, item: OutboxItem) -> bool:
        """One attempt at ``item``; on failure, wait the backoff (interruptible by ``stop``)."""
        try:
            self._store.put(item.object_key, item.body, item.metadata, item.content_type)
        except UploadError as e:
            self.failures += 1
            delay = backoff_delay(self.failures, self._retry_initial_s, self._retry_max_s)
            self._outbox.mark_failed(item.item_id, str(e))
            self.last_status = UploadStatus(False, item.object_key, datetime.now(UTC), str(e), delay)
            logger.warning(
                "upload of %s failed (%d in a row), retrying in %.1f s: %s",
                item.object_key,
                self.failures,
                delay,
                e,
            )
            self._stop.wait(delay)
            return False
        self._outbox.mark_done(item.item_id)
        if self.failures:
            logger.info("uploads recovered after %d failure(s)", self.failures)
        self.failures = 0
        self.last_status = UploadStatus(True, item.object_key, datetime.now(UTC))
        logger.info("uploaded %s", item.object_key)
        if self._on_uploaded is not None:
            try:
                self._on_uploaded(item)
            except Exception:
                # an observer's bug must not kill the thread that keeps captures flowing
                logger.exception("on_uploaded callback failed for %s", item.object_key)
        return True
