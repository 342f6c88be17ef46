"""Enrollment: one photo of one pose of a consenting student → one faceprint, or a reason why not.

Used by the enroll function (photos under ``enrollment/<usn>/<pose>.jpg`` in the bucket) and
by the folder CLI (``python -m infra.enroll``). Re-enrolling a pose replaces its faceprint;
enrolling the same photo twice gives the same result, so redelivered events are harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from cloud_functions.core.db.faceprints import EnrollmentRepository
from cloud_functions.core.errors import InvalidEventError, ObjectNotFoundError
from cloud_functions.core.faces.lookalikes import LookalikeScreen
from cloud_functions.core.faces.pipeline import FacePipeline
from cloud_functions.core.faces.types import AlignedFace, FaceRejectedError
from cloud_functions.core.storage import ObjectStore
from contracts import keys

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from cloud_functions.core.settings import FaceModelSettings

logger = logging.getLogger(__name__)

# Both end up in VARCHAR(32) columns and in object keys and file names.


class ConsentRejection(StrEnum):
    """Rejections that come before the photo is looked at."""

    UNKNOWN_STUDENT = "unknown_student"
    NO_CONSENT = "no_consent"


@dataclass(frozen=True)
class EnrollmentPhoto:
    """One photo to enroll and where it came from (an object key or a source URL/file)."""

    usn: str
    pose: str
    image_bytes: bytes
    object_key: str | None = None
    source_url: str | None = None


@dataclass(frozen=True)
class EnrollmentOutcome:
    """What enrollment made of one photo. ``reason`` is ``"<code>: <detail>"`` for a rejection."""

    usn: str
    pose: str
    status: str
    reason: str | None = None
    faceprint_id: int | None = None

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def log_fields(self) -> dict[str, str | None]:
        """The structured log line's fields (never the image or the embedding)."""
        return {"usn": self.usn, "pose": self.pose, "status": self.status, "reason": self.reason}

    @property
    def reason_code(self) -> str | None:
        """The rejection's code alone (``no_face``, ``no_consent`` ...)."""
        return None if self.reason is None else self.reason.split(":", 1)[0]


def validate_usn_pose(usn: str, pose: str) -> tuple[str, str]:
    """``(usn, pose)`` with the USN canonical; ``InvalidEventError`` unless both are safe, short ids."""
    try:
        return keys.validate_usn_pose(usn, pose)
    except keys.KeyFormatError as e:
        raise InvalidEventError(str(e)) from e


def parse_enrollment_key(key: str) -> tuple[str, str]:
    """``(usn, pose)`` of ``enrollment/<usn>/<pose>.<ext>`` (already URL-decoded), the USN canonical.

    S3 notifications carry keys URL-encoded (spaces as ``+``); ``core.events`` decodes them
    with ``unquote_plus`` at the boundary, so keys arrive here exactly as stored in the bucket.
    Anything else raises ``InvalidEventError``.
    """
    try:
        return keys.parse_enrollment_key(key)
    except keys.KeyFormatError as e:
        raise InvalidEventError(str(e)) from e


class EnrollmentService:
    """Consent check, quality gates, embedding and storage for enrollment photos.

    With a ``screen``, every stored faceprint is then compared with course mates and the whole
    gallery, and possible twins or double enrollments are flagged for an admin
    (``enrollment_flags``); the door matcher keeps its margin between flagged pairs.
    """

    def __init__(
        self, pipeline: FacePipeline, repository: EnrollmentRepository, screen: LookalikeScreen | None = None
    ) -> None:
        self._pipeline = pipeline
        self._repository = repository
        self._screen = screen

    def photo_on_record(self, usn: str, pose: str) -> str | None:
        """The object key of the pose's current photo, if it came from the bucket."""
        return self._repository.photo_key(usn, pose)

    def enroll(self, photo: EnrollmentPhoto) -> EnrollmentOutcome:
        """Enroll one photo (see ``enroll_batch``)."""
        return self.enroll_batch([photo])[0]

    def enroll_batch(self, photos: Sequence[EnrollmentPhoto]) -> list[EnrollmentOutcome]:
        """Enroll several photos with one batched embedding call; one outcome per photo, in order.

        A photo of an unknown student is rejected without a row (there is no student to attach
        it to); every other outcome is stored in ``enrollments``.
        """
        inspected: list[AlignedFace | EnrollmentOutcome] = [self._inspect(photo) for photo in photos]
        accepted = [item for item in inspected if isinstance(item, AlignedFace)]
        embeddings = iter(self._pipeline.embedder.embed([aligned.image for aligned in accepted]))
        outcomes = []
        for photo, item in zip(photos, inspected, strict=True):
            if isinstance(item, EnrollmentOutcome):
                outcomes.append(item)
                continue
            embedding = next(embeddings)
            faceprint_id = self._repository.accept(
                photo.usn,
                photo.pose,
                self._pipeline.model_id,
                embedding,
                object_key=photo.object_key,
                source_url=photo.source_url,
            )
            if self._screen is not None:
                # After the store: a failure here retries the photo, which stores the same print again.
                self._screen.screen(photo.usn, embedding)
            logger.info("enrollment photo accepted", extra={"usn": photo.usn, "pose": photo.pose})
            outcomes.append(EnrollmentOutcome(photo.usn, photo.pose, "accepted", faceprint_id=faceprint_id))
        return outcomes

    def _inspect(self, photo: EnrollmentPhoto) -> AlignedFace | EnrollmentOutcome:
        consent = self._repository.consent(photo.usn)
        if consent is None:
            reason = f"{ConsentRejection.UNKNOWN_STUDENT}: no student with USN {photo.usn}"
            logger.warning(
                "enrollment photo rejected", extra={"usn": photo.usn, "pose": photo.pose, "reason": reason}
            )
            return EnrollmentOutcome(photo.usn, photo.pose, "rejected", reason)
        if not consent.has_consent:
            return self._reject(photo, f"{ConsentRejection.NO_CONSENT}: no recorded consent for {photo.usn}")
        try:
            return self._pipeline.inspect(photo.image_bytes, mode="enroll")
        except FaceRejectedError as rejection:
            return self._reject(photo, str(rejection))

    def _reject(self, photo: EnrollmentPhoto, reason: str) -> EnrollmentOutcome:
        self._repository.reject(
            photo.usn, photo.pose, reason, object_key=photo.object_key, source_url=photo.source_url
        )
        logger.info(
            "enrollment photo rejected", extra={"usn": photo.usn, "pose": photo.pose, "reason": reason}
        )
        return EnrollmentOutcome(photo.usn, photo.pose, "rejected", reason)


def enroll_stored_photo(
    object_key: str, store: ObjectStore, service: EnrollmentService
) -> EnrollmentOutcome | None:
    """Enroll the photo at ``object_key`` (already URL-decoded) of the bucket.

    Only the photo an accepted faceprint was made from stays in the bucket: a rejected photo, a
    photo of an unknown student or of one without consent (a late upload after a biometric
    deletion), an object that is no enrollment photo at all, and the earlier photo of a pose
    that a new one replaced under another key are deleted.

    Returns ``None``, after logging why, for an event that names no enrollment photo (a key
    outside ``enrollment/<usn>/<pose>.<ext>``) or an object deleted since: retrying cannot help.
    Storage and database failures propagate, so the message is retried.
    """
    try:
        usn, pose = parse_enrollment_key(object_key)
    except InvalidEventError as e:
        store.delete(object_key)
        logger.warning("not an enrollment photo; deleted", extra={"object_key": object_key, "detail": str(e)})
        return None
    previous_key = service.photo_on_record(usn, pose)
    try:
        stored = store.get(object_key)
    except ObjectNotFoundError:
        logger.warning("enrollment photo no longer in the bucket", extra={"object_key": object_key})
        return None
    outcome = service.enroll(EnrollmentPhoto(usn, pose, stored.body, object_key=object_key))
    if not outcome.accepted:
        store.delete(object_key)
        logger.info(
            "rejected enrollment photo deleted",
            extra={"object_key": object_key, "usn": usn, "reason": outcome.reason_code},
        )
    if previous_key and previous_key != object_key:
        store.delete(previous_key)
        logger.info(
            "replaced enrollment photo deleted", extra={"object_key": previous_key, "usn": usn, "pose": pose}
        )
    return outcome


def enrollment_service(settings: FaceModelSettings, engine: Engine) -> EnrollmentService:
    """The enrollment service of the settings, with look-alike and duplicate screening."""
    from cloud_functions.core.db.faceprints import FaceprintRepository
    from cloud_functions.core.faces.lookalikes import RosterCourseMates
    from cloud_functions.core.faces.matcher import Matcher

    pipeline = FacePipeline.from_settings(settings)
    screen = LookalikeScreen(
        engine,
        # Refreshed before every screen: a pose stored a moment ago by a parallel delivery counts.
        Matcher(
            FaceprintRepository(engine),
            pipeline.model_id,
            threshold=settings.match_threshold,
            margin=settings.match_margin,
            refresh_s=0.0,
        ),
        RosterCourseMates(engine),
        duplicate_similarity=settings.duplicate_similarity,
        lookalike_similarity=settings.lookalike_similarity,
    )
    return EnrollmentService(pipeline, EnrollmentRepository(engine), screen)
