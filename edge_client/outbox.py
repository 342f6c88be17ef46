"""A durable local outbox: nothing captured is lost while the network or the bucket is down.

A capture is written to SQLite first (body bytes included), then an :class:`OutboxUploader`
thread uploads the oldest pending item through an :class:`ObjectStore` and deletes it once the
store has accepted it. Failures back off exponentially (with jitter, capped); a restarted client
finds its pending items in the file and resumes. The outbox is bounded: when full, the oldest
pending item is dropped with a warning and counted, so a long outage cannot fill the disk.

Uploads are idempotent (same key, same bytes), so an item whose upload succeeded just before a
crash and is uploaded again after the restart does no harm.

An accepted upload is not forgotten at once. The embedded local stack keeps its bucket and
queues in memory: if it is killed and restarted, objects it accepted a moment ago are gone, and
so are their notifications. The outbox therefore keeps every uploaded item for
``keep_uploaded_s`` (body included) and the uploader checks that its objects still exist: the
newest one every ``verify_interval_s`` (one HEAD a minute against real S3, where it always is),
and all of them whenever that one is missing or uploads recover after failing (a reconnect).
A missing object is uploaded again; the functions are idempotent on the object key, so a capture
that was processed before the restart is not counted twice.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from edge_client.aws import AwsCredentialsError, edge_aws_client

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

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored; raise ``UploadError`` if the store cannot tell."""
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
        try:
            self._client = edge_aws_client(
                "s3", endpoint_url=endpoint_url, region=region, timeout_s=timeout_s, max_attempts=1
            )
        except AwsCredentialsError as e:
            raise UploadError(str(e)) from e

    def put(self, key: str, body: bytes, metadata: dict[str, str], content_type: str) -> None:
        """Upload one object; SDK and HTTP errors become ``UploadError``."""
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=body, Metadata=metadata, ContentType=content_type
            )
        except (BotoCoreError, ClientError) as e:
            raise UploadError(f"upload of s3://{self.bucket}/{key} failed: {e}") from e

    def exists(self, key: str) -> bool:
        """HEAD the object: False for 404, ``UploadError`` for anything else that fails."""
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code", "") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise UploadError(f"cannot check s3://{self.bucket}/{key}: {e}") from e
        except BotoCoreError as e:
            raise UploadError(f"cannot check s3://{self.bucket}/{key}: {e}") from e
        return True


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


def _item(row: tuple[object, ...]) -> OutboxItem:
    item_id, object_key, body, metadata, content_type, created_at, attempts = row
    return OutboxItem(
        item_id=int(item_id),  # type: ignore[call-overload]
        object_key=str(object_key),
        body=bytes(body),  # type: ignore[call-overload]
        metadata=json.loads(str(metadata)),
        content_type=str(content_type),
        created_at=datetime.fromisoformat(str(created_at)),
        attempts=int(attempts),  # type: ignore[call-overload]
    )


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Counts for the operator view and logs.

    Attributes:
        pending: items waiting to upload.
        uploaded: items uploaded since the file was created.
        dropped: items dropped because the outbox was full, since the file was created.
        kept: uploaded items still kept until their objects are confirmed (see the module doc).
        reuploaded: uploaded items found missing from the store and queued again.
    """

    pending: int
    uploaded: int
    dropped: int
    kept: int = 0
    reuploaded: int = 0


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
INSERT OR IGNORE INTO outbox_counters (name, value)
    VALUES ('uploaded', 0), ('dropped', 0), ('reuploaded', 0);
"""
# Files written before uploaded items were kept lack the column; it is added on open.
# Pending items have no uploaded_at; uploaded ones are kept until confirmed (see the module doc).
_UPLOADED_AT = "ALTER TABLE outbox ADD COLUMN uploaded_at TEXT"


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
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
            if "uploaded_at" not in columns:
                self._db.execute(_UPLOADED_AT)
        except (sqlite3.Error, OSError) as e:
            raise OutboxError(f"cannot open outbox {path}: {e}") from e
        if self.stats().pending:
            self.changed.set()
            logger.info("outbox %s resumes with %d pending upload(s)", path, self.stats().pending)

    def put(
        self, object_key: str, body: bytes, metadata: dict[str, str], content_type: str = "image/jpeg"
    ) -> int:
        """Store an upload durably; return its item id. Drops the oldest items if full.

        Uploaded items kept for confirmation make room first (they are almost surely stored);
        only then are the oldest pending items dropped and counted.
        """
        created_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    held = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
                    excess = held - self.max_items + 1
                    if excess > 0:
                        self._db.execute(
                            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox "
                            "WHERE NOT (uploaded_at IS NULL) ORDER BY id LIMIT ?)",
                            (excess,),
                        )
                    pending = self._db.execute(
                        "SELECT COUNT(*) FROM outbox WHERE uploaded_at IS NULL"
                    ).fetchone()[0]
                    overflow = pending - self.max_items + 1
                    if overflow > 0:
                        self._db.execute(
                            "DELETE FROM outbox WHERE id IN "
                            "(SELECT id FROM outbox WHERE uploaded_at IS NULL ORDER BY id LIMIT ?)",
                            (overflow,),
                        )
                        self._db.execute(
                            "UPDATE outbox_counters SET value = value + ? WHERE name = 'dropped'", (overflow,)
                        )
                    # A key uploaded before and kept comes back as a new pending item.
                    self._db.execute(
                        "DELETE FROM outbox WHERE object_key = ? AND NOT (uploaded_at IS NULL)", (object_key,)
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
                "FROM outbox WHERE uploaded_at IS NULL ORDER BY id LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        return _item(row)

    def mark_done(self, item_id: int) -> None:
        """Count an uploaded item and keep it until its object is confirmed (``prune_uploaded``)."""
        uploaded_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            changed = self._db.execute(
                "UPDATE outbox SET uploaded_at = ?, last_error = NULL WHERE id = ? AND uploaded_at IS NULL",
                (uploaded_at, item_id),
            ).rowcount
            self._db.execute(
                "UPDATE outbox_counters SET value = value + ? WHERE name = 'uploaded'", (changed,)
            )
            self._db.execute("COMMIT")

    def uploaded_items(self) -> list[OutboxItem]:
        """Items uploaded and still kept, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, object_key, body, metadata, content_type, created_at, attempts "
                "FROM outbox WHERE NOT (uploaded_at IS NULL) ORDER BY uploaded_at DESC, id DESC"
            ).fetchall()
        return [_item(row) for row in rows]

    def requeue(self, item_id: int) -> None:
        """An uploaded item whose object is missing: pending again, and counted."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            changed = self._db.execute(
                "UPDATE outbox SET uploaded_at = NULL WHERE id = ? AND NOT (uploaded_at IS NULL)", (item_id,)
            ).rowcount
            self._db.execute(
                "UPDATE outbox_counters SET value = value + ? WHERE name = 'reuploaded'", (changed,)
            )
            self._db.execute("COMMIT")
        self.changed.set()

    def prune_uploaded(self, older_than_s: float) -> int:
        """Forget uploaded items kept ``older_than_s`` or longer; return how many."""
        cutoff = (datetime.now(UTC) - timedelta(seconds=older_than_s)).isoformat(timespec="milliseconds")
        with self._lock:
            return int(
                self._db.execute(
                    "DELETE FROM outbox WHERE NOT (uploaded_at IS NULL) AND uploaded_at <= ?", (cutoff,)
                ).rowcount
            )

    def mark_failed(self, item_id: int, error: str) -> None:
        """Record a failed attempt; the item stays pending."""
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error[:500], item_id),
            )

    def stats(self) -> OutboxStats:
        """Pending, uploaded, dropped, kept and re-uploaded counts."""
        with self._lock:
            pending = self._db.execute("SELECT COUNT(*) FROM outbox WHERE uploaded_at IS NULL").fetchone()[0]
            kept = self._db.execute("SELECT COUNT(*) FROM outbox WHERE NOT (uploaded_at IS NULL)").fetchone()[
                0
            ]
            counters = dict(self._db.execute("SELECT name, value FROM outbox_counters").fetchall())
        return OutboxStats(
            pending=pending,
            uploaded=counters["uploaded"],
            dropped=counters["dropped"],
            kept=kept,
            reuploaded=counters.get("reuploaded", 0),
        )

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
        keep_uploaded_s: how long uploaded items are kept for a check that their objects still
            exist. Longer survives a later restart of an in-memory endpoint; each kept item costs
            its bytes on disk.
        verify_interval_s: how often the newest kept item's object is checked (one HEAD); all
            of them are checked when it is missing and after uploads recover from failing.
    """

    def __init__(
        self,
        outbox: Outbox,
        store: ObjectStore,
        *,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 60.0,
        on_uploaded: Callable[[OutboxItem], None] | None = None,
        keep_uploaded_s: float = 600.0,
        verify_interval_s: float = 60.0,
    ) -> None:
        self._outbox = outbox
        self._store = store
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._on_uploaded = on_uploaded
        self._keep_uploaded_s = keep_uploaded_s
        self._verify_interval_s = verify_interval_s
        self._next_verify = time.monotonic() + verify_interval_s
        self._verify_all = False
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
            if self._verify_all or time.monotonic() >= self._next_verify:
                self.verify_uploaded(everything=self._verify_all)
            item = self._outbox.oldest()
            if item is None:
                self._outbox.changed.wait(min(1.0, self._verify_interval_s))
                self._outbox.changed.clear()
                continue
            self.upload_one(item)

    def verify_uploaded(self, *, everything: bool = False) -> int:
        """Check that kept items' objects exist; queue the missing ones again. Returns how many.

        Only the newest is checked unless ``everything``; if it is missing, all are. A store that
        cannot answer leaves things as they are (the next upload attempt will find it down).
        """
        self._next_verify = time.monotonic() + self._verify_interval_s
        self._verify_all = False
        self._outbox.prune_uploaded(self._keep_uploaded_s)
        kept = self._outbox.uploaded_items()
        missing = 0
        for item in kept if everything else kept[:1]:
            try:
                present = self._store.exists(item.object_key)
            except UploadError as e:
                logger.info("cannot check uploaded objects now: %s", e)
                return missing
            if present:
                continue
            if not everything:
                return self.verify_uploaded(everything=True)
            self._outbox.requeue(item.item_id)
            missing += 1
        if missing:
            logger.warning(
                "%d uploaded object(s) are gone from the store (an endpoint restarted empty?); "
                "uploading them again",
                missing,
            )
        return missing

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
            # The endpoint may be a restarted one that lost what it had accepted.
            self._verify_all = True
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
