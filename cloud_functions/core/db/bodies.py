"""Body prints: re-id embeddings of students tagged at a room's door, kept for the day.

Biometric data. A print is read only while its student has consent recorded, deleted once older
than the retention (``delete_expired_body_prints``), and deleted with the student's other
biometric data (``delete_body_prints``) or the student (``ON DELETE CASCADE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy.engine import Connection

from cloud_functions.core.db.schema import body_prints, students


@dataclass(frozen=True)
class BodyPrint:
    """One body re-id embedding of a student in a room on a day."""

    usn: str
    room_id: str
    class_date: date
    model_id: str
    embedding: NDArray[np.float32]
    capture_id: str


def count_body_prints(connection: Connection, usn: str, room_id: str, class_date: date, model_id: str) -> int:
    """How many prints the student has in the room on that day, for that model."""
    return int(
        connection.execute(
            sa.select(sa.func.count())
            .select_from(body_prints)
            .where(
                body_prints.c.usn == usn,
                body_prints.c.room_id == room_id,
                body_prints.c.class_date == class_date,
                body_prints.c.model_id == model_id,
            )
        ).scalar_one()
    )


def insert_body_print(connection: Connection, body_print: BodyPrint) -> None:
    """Store a print (float32, L2-normalised); a second print of one capture raises ``IntegrityError``."""
    vector = np.asarray(body_print.embedding, dtype=np.float32).reshape(-1)
    connection.execute(
        body_prints.insert().values(
            usn=body_print.usn,
            room_id=body_print.room_id,
            class_date=body_print.class_date,
            model_id=body_print.model_id,
            dim=int(vector.shape[0]),
            embedding=vector.tobytes(),
            capture_id=body_print.capture_id,
        )
    )


def load_body_gallery(
    connection: Connection, room_id: str, class_date: date, model_id: str
) -> tuple[list[str], list[NDArray[np.float32]]]:
    """The room's prints of the day for ``model_id``, of students whose consent is recorded.

    Returns parallel lists: one USN and one embedding per print.
    """
    rows = connection.execute(
        sa.select(body_prints.c.usn, body_prints.c.embedding)
        .join(students, students.c.usn == body_prints.c.usn)
        .where(
            body_prints.c.room_id == room_id,
            body_prints.c.class_date == class_date,
            body_prints.c.model_id == model_id,
            students.c.consent_given_at.is_not(None),
        )
        .order_by(body_prints.c.id)
    )
    usns: list[str] = []
    embeddings: list[NDArray[np.float32]] = []
    for row in rows:
        usns.append(row.usn)
        embeddings.append(np.frombuffer(row.embedding, dtype=np.float32))
    return usns, embeddings


def delete_expired_body_prints(connection: Connection, room_id: str, keep_from: date) -> int:
    """Delete the room's prints from before ``keep_from`` (a room-local day); returns how many."""
    return int(
        connection.execute(
            body_prints.delete().where(body_prints.c.room_id == room_id, body_prints.c.class_date < keep_from)
        ).rowcount
    )


def delete_body_prints(connection: Connection, usn: str) -> int:
    """Delete every body print of a student (biometric deletion); returns how many."""
    return int(connection.execute(body_prints.delete().where(body_prints.c.usn == usn)).rowcount)
