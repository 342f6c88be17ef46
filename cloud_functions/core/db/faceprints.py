"""Faceprints and enrollment outcomes in the database (SQLAlchemy Core, SQLite and MySQL).

Biometric data: every faceprint belongs to a student with consent recorded, and goes with their
biometric data or the student (``ON DELETE CASCADE``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from cloud_functions.core.db.engine import transaction
from cloud_functions.core.db.schema import enrollments, faceprints
from cloud_functions.core.db.students import StudentConsent, student_consent
from cloud_functions.core.matching import Gallery, GalleryVersion

ENROLLMENT_STATUSES = ("pending", "accepted", "rejected")
_REASON_MAX = 255


def embedding_to_bytes(embedding: NDArray[np.floating]) -> bytes:
    """The stored form of a faceprint: little-endian float32."""
    return np.asarray(embedding, dtype="<f4").reshape(-1).tobytes()


def embedding_from_bytes(data: bytes, dim: int) -> NDArray[np.float32]:
    """Inverse of ``embedding_to_bytes``; checks the stored dimension."""
    vector = np.frombuffer(data, dtype="<f4").astype(np.float32)
    if vector.shape[0] != dim:
        raise ValueError(f"stored faceprint has {vector.shape[0]} values, expected {dim}")
    return vector


T = TypeVar("T")


def _in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    with transaction(engine) as connection:
        return work(connection)


def _retry_once_on_conflict(run: Callable[[], T]) -> T:
    """Run ``run``; if a concurrent writer inserted the same unique key first, run it once more."""
    try:
        return run()
    except IntegrityError:
        return run()


def replace_faceprint(
    connection: Connection, usn: str, pose: str, model_id: str, embedding: NDArray[np.floating]
) -> int:
    """Delete the pose's faceprint of ``model_id`` and insert the new one; returns its id.

    Delete-then-insert (not update) gives the row a new id and ``created_at``, which is what
    the matcher's cheap version check notices.
    """
    vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
    connection.execute(
        faceprints.delete().where(
            (faceprints.c.usn == usn) & (faceprints.c.pose == pose) & (faceprints.c.model_id == model_id)
        )
    )
    result = connection.execute(
        faceprints.insert().values(
            usn=usn,
            pose=pose,
            model_id=model_id,
            dim=int(vector.shape[0]),
            embedding=embedding_to_bytes(vector),
            created_at=datetime.now(UTC),
        )
    )
    primary_key = result.inserted_primary_key
    assert primary_key is not None
    return int(primary_key[0])


def upsert_enrollment(
    connection: Connection,
    usn: str,
    pose: str,
    status: str,
    reason: str | None,
    *,
    object_key: str | None = None,
    source_url: str | None = None,
) -> None:
    """Set the outcome of the pose's photo (one ``enrollments`` row per student and pose).

    An existing row is updated; its ``source_url``/``object_key`` are kept unless new ones are given.
    """
    if status not in ENROLLMENT_STATUSES:
        raise ValueError(f"unknown enrollment status {status!r}")
    values: dict[str, object] = {
        "status": status,
        "reason": reason[:_REASON_MAX] if reason else None,
        "updated_at": datetime.now(UTC),
    }
    if object_key is not None:
        values["object_key"] = object_key
    if source_url is not None:
        values["source_url"] = source_url
    key = (enrollments.c.usn == usn) & (enrollments.c.pose == pose)
    # updated_at always changes, so MySQL's "rows changed" count is 1 for an existing row too.
    if connection.execute(enrollments.update().where(key).values(**values)).rowcount == 0:
        connection.execute(enrollments.insert().values(usn=usn, pose=pose, **values))


class FaceprintRepository:
    """The ``faceprints`` table; also the ``GallerySource`` the matcher reads."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, usn: str, pose: str, model_id: str, embedding: NDArray[np.floating]) -> int:
        """Store the faceprint of one pose, replacing an earlier one of the same pose and model.

        Returns the new row's id.
        """
        return _retry_once_on_conflict(
            lambda: _in_transaction(
                self._engine, lambda c: replace_faceprint(c, usn, pose, model_id, embedding)
            )
        )

    def gallery_version(self, model_id: str) -> Hashable:
        """Count, largest id and newest ``created_at`` of the model's faceprints (one indexed query)."""
        query = sa.select(
            sa.func.count(), sa.func.max(faceprints.c.id), sa.func.max(faceprints.c.created_at)
        ).where(faceprints.c.model_id == model_id)
        with transaction(self._engine) as connection:
            count, max_id, max_created_at = connection.execute(query).one()
        return GalleryVersion(int(count), max_id, max_created_at)

    def load_gallery(self, model_id: str) -> Gallery:
        """Every faceprint of ``model_id``; no other model's rows are read."""
        if self._engine.dialect.name == "mysql":
            with transaction(self._engine) as connection:
                return _load_packed(connection, model_id)
        return self._load(model_id, faceprints.c.model_id == model_id)

    def faceprints_since(self, model_id: str, since: GalleryVersion) -> Gallery:
        """The model's faceprints written since ``since`` (new and replaced poses), as a small gallery.

        A row counts when its id is not below ``since``'s largest or it was written after
        ``since``'s newest: SQLite gives a new row the largest id left after a delete, which may
        be below the old largest.
        """
        model = faceprints.c.model_id == model_id
        # Two indexed reads, not one OR (which a database may answer by reading every row).
        recent: list[sa.ColumnElement[bool]] = []
        if since.max_id is not None:
            recent.append(model & (faceprints.c.id >= since.max_id))
        if since.max_created_at is not None:
            recent.append(model & (faceprints.c.created_at > since.max_created_at))
        return self._load(model_id, *(recent or [model]))

    def _load(self, model_id: str, *wheres: sa.ColumnElement[bool]) -> Gallery:
        # No ORDER BY: the database would sort 50,000 rows with their blobs; Gallery sorts keys.
        # No dim column either: every blob's length is checked instead (one column less to parse).
        columns = (faceprints.c.id, faceprints.c.usn, faceprints.c.pose, faceprints.c.embedding)
        with transaction(self._engine) as connection:
            results = [connection.execute(sa.select(*columns).where(where)).all() for where in wheres]
        rows = (
            results[0]
            if len(results) == 1
            else list({row[0]: row for rows in results for row in rows}.values())
        )
        if not rows:
            return Gallery.from_rows(model_id, [], [], [])
        ids, usns, poses, blobs = zip(*rows, strict=True)
        return _gallery(model_id, usns, poses, blobs, max(ids))


# Rows per packed chunk: 1,024 x 512-d float32 is 2 MiB, well under MariaDB's 16 MiB packet.
_PACK_ROWS = 1024
_PACK_BYTES = 64 * 2**20
_PACKED_QUERY = sa.text(
    """
    SELECT GROUP_CONCAT(id ORDER BY id), GROUP_CONCAT(usn ORDER BY id),
           GROUP_CONCAT(pose ORDER BY id), GROUP_CONCAT(embedding ORDER BY id SEPARATOR ''),
           MIN(LENGTH(embedding)), MAX(LENGTH(embedding)), COUNT(*)
    FROM faceprints WHERE model_id = :model_id GROUP BY id DIV :rows
    """
)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _load_packed(connection: Connection, model_id: str) -> Gallery:
    """The whole gallery read as one row per 1,024 faceprints, packed by MySQL/MariaDB.

    The pure-Python driver spends most of a 50,000-row read decoding rows; the server joins each
    chunk's ids, USNs and poses (comma-separated: neither may hold a comma) and blobs instead,
    so the client decodes about 50 rows.
    """
    connection.execute(sa.text("SET SESSION group_concat_max_len = :bytes"), {"bytes": _PACK_BYTES})
    chunks = connection.execute(_PACKED_QUERY, {"model_id": model_id, "rows": _PACK_ROWS}).all()
    if not chunks:
        return Gallery.from_rows(model_id, [], [], [])
    ids = [int(i) for chunk in chunks for i in _text(chunk[0]).split(",")]
    usns = [usn for chunk in chunks for usn in _text(chunk[1]).split(",")]
    poses = [pose for chunk in chunks for pose in _text(chunk[2]).split(",")]
    count = sum(int(chunk[6]) for chunk in chunks)
    if not len(ids) == len(usns) == len(poses) == count:
        raise ValueError(f"faceprints of {model_id}: a USN or pose holds a comma")
    sizes = {int(chunk[4]) for chunk in chunks} | {int(chunk[5]) for chunk in chunks}
    if len(sizes) != 1:
        raise ValueError(f"faceprints of {model_id} have mixed dimensions {sorted(n // 4 for n in sizes)}")
    blob = b"".join(chunk[3] for chunk in chunks)
    return _gallery(model_id, usns, poses, [blob], max(ids), size=sizes.pop())


def _gallery(
    model_id: str,
    usns: Sequence[str],
    poses: Sequence[str],
    blobs: Sequence[bytes],
    max_id: int,
    *,
    size: int | None = None,
) -> Gallery:
    """A gallery from the rows' embedding blobs (one per row, or one joined blob of ``size``-byte rows)."""
    if size is None:
        sizes = set(map(len, blobs))
        if len(sizes) != 1:
            raise ValueError(
                f"faceprints of {model_id} have mixed dimensions {sorted(n // 4 for n in sizes)}"
            )
        size = sizes.pop()
    # One buffer for every row: a 50,000-print gallery loads without 50,000 small arrays.
    blob = b"".join(blobs)
    if size % 4 or len(blob) != size * len(usns):
        raise ValueError(f"a stored faceprint of {model_id} is not {len(usns)} float32 vectors")
    matrix = np.frombuffer(blob, dtype="<f4").astype(np.float32).reshape(len(usns), size // 4)
    return Gallery.from_rows(model_id, usns, matrix, poses, max_id=max_id)


class EnrollmentRepository:
    """Students' consent and the per-photo outcome in the ``enrollments`` table."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def consent(self, usn: str) -> StudentConsent | None:
        """The student's consent record, or ``None`` if there is no such student."""
        with transaction(self._engine) as connection:
            return student_consent(connection, usn)

    def accept(
        self,
        usn: str,
        pose: str,
        model_id: str,
        embedding: NDArray[np.floating],
        *,
        object_key: str | None = None,
        source_url: str | None = None,
    ) -> int:
        """Store the pose's faceprint and mark its photo accepted, in one transaction.

        Returns the faceprint's id.
        """

        def work(connection: Connection) -> int:
            faceprint_id = replace_faceprint(connection, usn, pose, model_id, embedding)
            upsert_enrollment(
                connection, usn, pose, "accepted", None, object_key=object_key, source_url=source_url
            )
            return faceprint_id

        return _retry_once_on_conflict(lambda: _in_transaction(self._engine, work))

    def reject(
        self,
        usn: str,
        pose: str,
        reason: str,
        *,
        object_key: str | None = None,
        source_url: str | None = None,
    ) -> None:
        """Mark the pose's photo rejected with ``reason`` and drop that pose's faceprints.

        The pose's photo on record is now the rejected one, so no faceprint made from an
        earlier photo of that pose stays behind.
        """

        def work(connection: Connection) -> None:
            connection.execute(
                faceprints.delete().where((faceprints.c.usn == usn) & (faceprints.c.pose == pose))
            )
            upsert_enrollment(
                connection, usn, pose, "rejected", reason, object_key=object_key, source_url=source_url
            )

        _retry_once_on_conflict(lambda: _in_transaction(self._engine, work))

    def photo_key(self, usn: str, pose: str) -> str | None:
        """The object key of the pose's photo on record, if it came from the bucket."""
        query = sa.select(enrollments.c.object_key).where(
            (enrollments.c.usn == usn) & (enrollments.c.pose == pose)
        )
        with transaction(self._engine) as connection:
            return connection.execute(query).scalar_one_or_none()

    def outcomes(self, usn: str) -> dict[str, tuple[str, str | None]]:
        """Each pose of a student with its (status, reason)."""
        query = sa.select(enrollments.c.pose, enrollments.c.status, enrollments.c.reason).where(
            enrollments.c.usn == usn
        )
        with transaction(self._engine) as connection:
            return {row.pose: (row.status, row.reason) for row in connection.execute(query)}
