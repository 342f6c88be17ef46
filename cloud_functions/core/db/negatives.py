"""Negatives: door captures a teacher corrected as "not this student", as embeddings per student.

The API records a correction as a ``pending`` row naming the capture's crop (it has no face
model); face_match, which has the model warm, embeds the crop with its own pipeline and stores
the vector (``stored``), or says why it could not (``unavailable``: the crop expired under the
capture retention, or no face passed the gates). One row per capture, whoever corrects it twice.

Biometric data: a negative is derived from a door crop; it is kept as long as the student's
faceprints and deleted with the student's biometric data or the student (``ON DELETE CASCADE``
and ``delete_biometrics``). Embeddings never appear in logs or API responses.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy.engine import Connection, Engine

from cloud_functions.core.db.engine import insert_ignoring_duplicate, transaction
from cloud_functions.core.db.faceprints import embedding_to_bytes
from cloud_functions.core.db.schema import face_negatives

_DETAIL_MAX = 255


def record_correction(
    connection: Connection, *, usn: str, capture_id: str, object_key: str, corrected_by: str
) -> bool:
    """Ask for the capture's embedding to become a negative for ``usn``; True when it is new.

    Idempotent on ``capture_id``: correcting the same door recognition again adds nothing.
    """
    return insert_ignoring_duplicate(
        connection,
        face_negatives,
        {
            "usn": usn,
            "capture_id": capture_id,
            "object_key": object_key,
            "status": "pending",
            "corrected_by": corrected_by[:200],
            "created_at": datetime.now(UTC),
        },
        ["capture_id"],
    )


@dataclass(frozen=True)
class PendingNegative:
    id: int
    usn: str
    capture_id: str
    object_key: str


class FaceNegativeRepository:
    """The ``face_negatives`` table; also the ``NegativeSource`` the matcher reads."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def pending(self, limit: int = 10) -> list[PendingNegative]:
        """Corrections whose crop is not embedded yet, oldest first (one indexed query)."""
        query = (
            sa.select(
                face_negatives.c.id,
                face_negatives.c.usn,
                face_negatives.c.capture_id,
                face_negatives.c.object_key,
            )
            .where(face_negatives.c.status == "pending")
            .order_by(face_negatives.c.id)
            .limit(limit)
        )
        with transaction(self._engine) as connection:
            return [
                PendingNegative(r.id, r.usn, r.capture_id, r.object_key) for r in connection.execute(query)
            ]

    def store(self, negative_id: int, model_id: str, embedding: NDArray[np.floating]) -> None:
        """Keep the embedding of a pending correction (a row already resolved is left alone)."""
        vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
        self._resolve(
            negative_id,
            status="stored",
            model_id=model_id,
            dim=int(vector.shape[0]),
            embedding=embedding_to_bytes(vector),
        )

    def mark_unavailable(self, negative_id: int, detail: str) -> None:
        """No negative can be made from this correction (crop gone, or no usable face in it)."""
        self._resolve(negative_id, status="unavailable", detail=detail[:_DETAIL_MAX])

    def _resolve(self, negative_id: int, **values: object) -> None:
        with transaction(self._engine) as connection:
            connection.execute(
                face_negatives.update()
                .where((face_negatives.c.id == negative_id) & (face_negatives.c.status == "pending"))
                .values(embedded_at=datetime.now(UTC), **values)
            )

    def negatives_version(self, model_id: str) -> Hashable:
        """Count, largest id and newest ``embedded_at`` of the model's stored negatives."""
        query = sa.select(
            sa.func.count(), sa.func.max(face_negatives.c.id), sa.func.max(face_negatives.c.embedded_at)
        ).where((face_negatives.c.model_id == model_id) & (face_negatives.c.status == "stored"))
        with transaction(self._engine) as connection:
            return tuple(connection.execute(query).one())

    def load_negatives(self, model_id: str) -> dict[str, NDArray[np.float32]]:
        """Each student's stored negatives of ``model_id`` as one ``[K, D]`` matrix."""
        query = sa.select(face_negatives.c.usn, face_negatives.c.dim, face_negatives.c.embedding).where(
            (face_negatives.c.model_id == model_id) & (face_negatives.c.status == "stored")
        )
        rows: dict[str, list[NDArray[np.float32]]] = {}
        with transaction(self._engine) as connection:
            for row in connection.execute(query):
                vector = np.frombuffer(row.embedding, dtype="<f4").astype(np.float32)
                if vector.shape[0] != row.dim:
                    raise ValueError(
                        f"a stored negative of {model_id} does not hold {row.dim} float32 values"
                    )
                rows.setdefault(row.usn, []).append(vector)
        return {usn: np.stack(vectors) for usn, vectors in rows.items()}
