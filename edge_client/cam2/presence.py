"""Reports to the cloud: who is present (presence reports) and who is still unknown (body crops).

Both are objects in the capture bucket, written through a :class:`CaptureSink` (in production
the durable :class:`edge_client.outbox.Outbox`, so the frame loop never waits on the network):

- ``captures/presence/<room_id>/<YYYY-MM-DD>/<camera_id>-<HHMMSSffffff>.json``: a
  :class:`PresenceReport` every ``presence_interval_s`` listing the identified tracks present
  (USN, tracker id, first/last seen, dwell seconds). The bucket notifies the presence function,
  which confirms attendance after the minimum dwell time.
- ``captures/bodies/<room_id>/<YYYY-MM-DD>/<capture_id>.jpg``: a body crop of a track unknown
  for longer than ``unknown_body_after_s``, at most once per track per ``body_crop_interval_s``.
  The body_match function answers with a handoff (``source="body"``, same ``capture_id``).
- ``captures/gallery/<room_id>/<YYYY-MM-DD>/<usn>/<capture_id>.jpg``: a few body crops of each
  track a door handoff tagged, a few seconds apart. body_match turns them into the room's body
  gallery of the day, which the crops of unknown tracks are matched against.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

import cv2
import numpy as np
import supervision as sv

from contracts.captures import BodyCaptureMetadata, GalleryCropMetadata
from contracts.keys import body_capture_key, gallery_crop_key, presence_report_key
from contracts.presence import EarlierTag, PresenceReport, PresentTrack
from edge_client.cam2.tracks import TrackRegistry, tracker_ids
from vision.reid import crop_box

logger = logging.getLogger(__name__)


class CaptureSink(Protocol):
    """Where reports and crops go (the outbox, or an object store directly)."""

    def put(self, key: str, body: bytes, metadata: dict[str, str], content_type: str) -> object:
        """Store ``body`` under ``key`` with object ``metadata``."""
        ...


def encode_crop(frame: np.ndarray, xyxy: np.ndarray, jpeg_quality: int) -> bytes | None:
    """The person box ``xyxy`` of ``frame`` as JPEG, or None if it cannot be encoded."""
    ok, jpeg = cv2.imencode(".jpg", crop_box(frame, xyxy), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    return jpeg.tobytes() if ok else None


class PresenceReporter:
    """Stage: every ``interval_s`` writes the identified live tracks as a :class:`PresenceReport`.

    Args:
        sink: where the report goes.
        room_id: this room.
        camera_id: this camera.
        interval_s: seconds between reports; shorter confirms attendance sooner, costs requests.
    """

    def __init__(self, sink: CaptureSink, room_id: str, camera_id: str, interval_s: float = 30.0) -> None:
        self.sink = sink
        self.room_id = room_id
        self.camera_id = camera_id
        self.interval = timedelta(seconds=interval_s)
        self.last_report_at: datetime | None = None
        self.last_report: PresenceReport | None = None

    def update_with_detections(
        self, detections: sv.Detections, frame: np.ndarray, at: datetime, registry: TrackRegistry
    ) -> sv.Detections:
        """Write a report when the interval has passed since the last one."""
        if self.last_report_at is not None and at - self.last_report_at < self.interval:
            return detections
        report = self.build(registry, at)
        self.sink.put(
            presence_report_key(self.room_id, self.camera_id, at),
            report.model_dump_json().encode(),
            report.metadata(),
            "application/json",
        )
        self.last_report_at, self.last_report = at, report
        logger.info("presence report: %d identified, %d unknown", len(report.present), report.unknown_tracks)
        return detections

    def build(self, registry: TrackRegistry, at: datetime) -> PresenceReport:
        """The report for the tracks in view now."""
        live = registry.live()
        present = [
            PresentTrack(
                usn=r.usn,
                tracker_id=r.tracker_id,
                source=r.usn_source or "face",
                first_seen_at=r.first_seen_at,
                last_seen_at=r.last_seen_at,
                dwell_s=r.dwell_s(),
                capture_id=r.capture_id,
                tagged_at=r.tagged_at,
                entered_through_door=r.tag_entry[0] if r.tag_entry else False,
                entered_at=r.tag_entry[1] if r.tag_entry else None,
                earlier_tags=[
                    EarlierTag(usn=usn, capture_id=capture_id, tagged_at=at)
                    for usn, capture_id, at in r.earlier_tags
                ],
            )
            for r in sorted(live, key=lambda r: r.tracker_id)
            if r.usn is not None
        ]
        return PresenceReport(
            room_id=self.room_id,
            camera_id=self.camera_id,
            reported_at=at,
            interval_s=self.interval.total_seconds(),
            present=present,
            unknown_tracks=sum(1 for r in live if r.usn is None),
        )

    def reset(self) -> None:
        """Report again on the next frame."""
        self.last_report_at = None


class BodyCropUploader:
    """Stage: uploads a body crop of each track unknown for too long, for body matching.

    Args:
        sink: where crops go.
        room_id: this room (part of the key and metadata).
        camera_id: this camera (metadata).
        unknown_after_s: a track without a USN this long after it appeared gets a crop sent.
            Shorter identifies people who slipped past the door camera sooner, costs uploads.
        interval_s: least time between two crops of the same track.
        jpeg_quality: JPEG quality of the crop.
        on_capture: told ``(capture_id, tracker_id)`` of each crop, so the answer can be routed
            back to the track (``HandoffAssigner.register_body_capture``).
    """

    def __init__(
        self,
        sink: CaptureSink,
        room_id: str,
        camera_id: str,
        unknown_after_s: float = 20.0,
        interval_s: float = 60.0,
        jpeg_quality: int = 90,
        on_capture: Callable[[str, int], None] | None = None,
    ) -> None:
        self.sink = sink
        self.room_id = room_id
        self.camera_id = camera_id
        self.unknown_after = timedelta(seconds=unknown_after_s)
        self.interval = timedelta(seconds=interval_s)
        self.jpeg_quality = jpeg_quality
        self.on_capture = on_capture
        self.uploaded = 0

    def update_with_detections(
        self, detections: sv.Detections, frame: np.ndarray, at: datetime, registry: TrackRegistry
    ) -> sv.Detections:
        """Send a crop of every live track that has been unknown too long and not sent lately."""
        for index, tracker_id in enumerate(tracker_ids(detections)):
            record = registry.records.get(tracker_id)
            if record is None or record.usn is not None:
                continue
            if at - record.first_seen_at < self.unknown_after:
                continue
            if record.last_body_upload_at is not None and at - record.last_body_upload_at < self.interval:
                continue
            jpeg = encode_crop(frame, detections.xyxy[index], self.jpeg_quality)
            if jpeg is None:
                logger.warning("body crop of track %d could not be encoded", tracker_id)
                continue
            capture_id = uuid.uuid4().hex
            metadata = BodyCaptureMetadata(
                room_id=self.room_id,
                camera_id=self.camera_id,
                captured_at=at,
                capture_id=capture_id,
                tracker_id=tracker_id,
            )
            self.sink.put(
                body_capture_key(self.room_id, at, capture_id), jpeg, metadata.to_s3(), "image/jpeg"
            )
            record.last_body_upload_at = at
            self.uploaded += 1
            if self.on_capture is not None:
                self.on_capture(capture_id, tracker_id)
            logger.info("body crop %s of unknown track %d queued", capture_id, tracker_id)
        return detections

    def reset(self) -> None:
        """Nothing to forget: upload times live on the track records."""


class GalleryCropUploader:
    """Stage: uploads body crops of each track a door handoff tagged, for the room's body gallery.

    Only tracks tagged by a face handoff qualify: a body match or a re-id carry-over is weaker
    evidence, and a wrong print would spread its mistake to later matches.

    Args:
        sink: where crops go.
        room_id: this room (part of the key and metadata).
        camera_id: this camera (metadata).
        crops_per_track: crops sent per tagged track. More cover more poses, cost uploads.
        interval_s: least time between two crops of the same track; longer sees more poses.
        jpeg_quality: JPEG quality of the crop.
    """

    def __init__(
        self,
        sink: CaptureSink,
        room_id: str,
        camera_id: str,
        crops_per_track: int = 3,
        interval_s: float = 5.0,
        jpeg_quality: int = 90,
    ) -> None:
        self.sink = sink
        self.room_id = room_id
        self.camera_id = camera_id
        self.crops_per_track = crops_per_track
        self.interval = timedelta(seconds=interval_s)
        self.jpeg_quality = jpeg_quality
        self.uploaded = 0

    def update_with_detections(
        self, detections: sv.Detections, frame: np.ndarray, at: datetime, registry: TrackRegistry
    ) -> sv.Detections:
        """Send a crop of every face-tagged live track that still owes the gallery one."""
        for index, tracker_id in enumerate(tracker_ids(detections)):
            record = registry.records.get(tracker_id)
            if record is None or record.usn is None or record.usn_source != "face":
                continue
            if record.gallery_uploads >= self.crops_per_track:
                continue
            if (
                record.last_gallery_upload_at is not None
                and at - record.last_gallery_upload_at < self.interval
            ):
                continue
            jpeg = encode_crop(frame, detections.xyxy[index], self.jpeg_quality)
            if jpeg is None:
                logger.warning("gallery crop of track %d could not be encoded", tracker_id)
                continue
            capture_id = uuid.uuid4().hex
            metadata = GalleryCropMetadata(
                room_id=self.room_id,
                camera_id=self.camera_id,
                captured_at=at,
                capture_id=capture_id,
                tracker_id=tracker_id,
                usn=record.usn,
            )
            key = gallery_crop_key(self.room_id, record.usn, at, capture_id)
            self.sink.put(key, jpeg, metadata.to_s3(), "image/jpeg")
            record.gallery_uploads += 1
            record.last_gallery_upload_at = at
            self.uploaded += 1
            logger.info("gallery crop %s of track %d (%s) queued", capture_id, tracker_id, record.usn)
        return detections

    def reset(self) -> None:
        """Nothing to forget: upload counts live on the track records."""
