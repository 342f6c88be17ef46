"""The stable-face gate: decides, frame by frame, when the doorway face is worth uploading.

It follows one face (the largest, with hysteresis so two similar faces do not flip-flop), and
captures when that face has been present and still for ``stable_s``, big enough and sharp enough.
Still means: IoU with the previous box at least ``min_iou`` and centre shift at most
``max_centre_shift`` face widths. Of the still window it uploads the sharpest frame. After a
capture the same face is not captured again for ``cooldown_s``; a different person (box jumps,
IoU below ``new_person_iou``, or the face gone for longer than ``forget_after_s``) starts over.

The per-frame thresholds assume roughly 5-30 frames per second; at lower rates a walking person
moves further between frames and is seen as "not still" more often.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import cv2
import numpy as np

from edge_client.sources import Frame
from vision.faces import DetectedFace, FaceDetector
from vision.liveness import WindowFrame

logger = logging.getLogger(__name__)

SHARPNESS_WIDTH_PX = 112
"""Faces are scaled to this width before measuring sharpness, so scores compare across sizes."""


def box_iou(a: DetectedFace, b: DetectedFace) -> float:
    """Intersection over union of two boxes (0 when disjoint)."""
    x1 = max(a.xyxy[0], b.xyxy[0])
    y1 = max(a.xyxy[1], b.xyxy[1])
    x2 = min(a.xyxy[2], b.xyxy[2])
    y2 = min(a.xyxy[3], b.xyxy[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def centre_shift(previous: DetectedFace, current: DetectedFace) -> float:
    """Distance between box centres, in widths of the previous box."""
    (px, py), (cx, cy) = previous.centre, current.centre
    return float(np.hypot(cx - px, cy - py)) / max(previous.width, 1.0)


def face_sharpness(image: np.ndarray, face: DetectedFace) -> float:
    """Variance of the Laplacian of the grey face, scaled to ``SHARPNESS_WIDTH_PX`` wide."""
    x1, y1, x2, y2 = (round(v) for v in face.xyxy)
    patch = image[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)]
    if patch.size == 0:
        return 0.0
    grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)
    height = max(1, round(grey.shape[0] * SHARPNESS_WIDTH_PX / grey.shape[1]))
    grey = cv2.resize(grey, (SHARPNESS_WIDTH_PX, height), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


class GateState(StrEnum):
    """What the gate is waiting for; shown in the operator view."""

    NO_FACE = "no face"
    TOO_SMALL = "face too small"
    MOVING = "moving"
    STABILISING = "hold still"
    BLURRY = "too blurry"
    COOLDOWN = "already captured"
    CAPTURED = "captured"


@dataclass(frozen=True, slots=True)
class GateStatus:
    """The gate after the latest frame, for the operator view.

    Attributes:
        state: what the gate is waiting for.
        face: the followed face, if any.
        progress: share of ``stable_s`` the face has been still, in ``[0, 1]``.
        track_id: id of the followed face (a new person gets a new id).
    """

    state: GateState
    face: DetectedFace | None = None
    progress: float = 0.0
    track_id: int | None = None


@dataclass(frozen=True, slots=True)
class CaptureDecision:
    """The gate's verdict that a face is worth uploading.

    Attributes:
        image: the full frame chosen (the sharpest of the still window).
        face: the face box in that frame.
        sharpness: its sharpness score.
        frame_index: index of the chosen frame.
        timestamp_s: source time of the chosen frame.
        captured_at: UTC wall-clock time of the chosen frame.
        decided_at_s: source time at which the face became stable long enough.
        stable_for_s: how long the face had been still when the gate decided.
        track_id: id of the followed face.
        decided_monotonic_s: ``time.monotonic()`` when the gate decided, for latency measurements.
        window: frames of the still window (time order, evenly thinned, at most
            ``window_max_frames``) with the followed face in each, for the liveness check.
    """

    image: np.ndarray
    face: DetectedFace
    sharpness: float
    frame_index: int
    timestamp_s: float
    captured_at: datetime
    decided_at_s: float
    stable_for_s: float
    track_id: int
    decided_monotonic_s: float = field(default_factory=time.monotonic)
    window: tuple[WindowFrame, ...] = ()


@dataclass(slots=True)
class _Candidate:
    frame: Frame
    face: DetectedFace
    sharpness: float


@dataclass(slots=True)
class _Track:
    track_id: int
    box: DetectedFace
    last_seen_s: float
    still_since_s: float
    best: _Candidate | None = None
    last_capture_s: float | None = None
    window: deque[WindowFrame] = field(default_factory=deque)

    def restart_window(self, now_s: float) -> None:
        """The face moved (or was captured): the still window starts again now."""
        self.still_since_s = now_s
        self.best = None
        self.window.clear()


class StableFaceGate:
    """State machine over frames: ``update(frame)`` returns a ``CaptureDecision`` or ``None``.

    Args:
        detector: finds faces in each frame.
        stable_s: how long the face must be still. Longer avoids half-turned faces in passing,
            shorter catches people who do not stop.
        min_iou: IoU with the previous box that counts as still.
        max_centre_shift: centre movement (in face widths) between frames that counts as still.
        new_person_iou: below this IoU the followed face is a new person.
        lost_grace_s: a face missing this long does not break the still window (detector blinks).
        forget_after_s: a face missing longer is forgotten; the next face is a new person.
        cooldown_s: no second capture of the same followed face within this time.
        min_face_px: shorter box side a face needs to be captured.
        min_sharpness: Laplacian variance a frame needs to be uploaded.
        switch_area_ratio: another face must be this many times larger than the followed one to
            take over (hysteresis against flip-flopping between similar faces).
        window_max_frames: frames of the still window kept for the liveness check (evenly spread
            over ``stable_s``; 0 keeps none). More gives the planar-motion check more to fit at
            one full frame of memory each (about 1 MB at 640x480, 6 MB at 1080p).
    """

    def __init__(
        self,
        detector: FaceDetector,
        *,
        stable_s: float = 2.0,
        min_iou: float = 0.5,
        max_centre_shift: float = 0.25,
        new_person_iou: float = 0.4,
        lost_grace_s: float = 0.3,
        forget_after_s: float = 1.0,
        cooldown_s: float = 30.0,
        min_face_px: int = 64,
        min_sharpness: float = 20.0,
        switch_area_ratio: float = 1.5,
        window_max_frames: int = 20,
    ) -> None:
        self._detector = detector
        self.stable_s = stable_s
        self.min_iou = min_iou
        self.max_centre_shift = max_centre_shift
        self.new_person_iou = new_person_iou
        self.lost_grace_s = lost_grace_s
        self.forget_after_s = forget_after_s
        self.cooldown_s = cooldown_s
        self.min_face_px = min_face_px
        self.min_sharpness = min_sharpness
        self.switch_area_ratio = switch_area_ratio
        self.window_max_frames = window_max_frames
        # Frames closer together than this are not kept: the window spans stable_s evenly.
        self._window_spacing_s = stable_s / window_max_frames if window_max_frames else float("inf")
        self._track: _Track | None = None
        self._next_track_id = 1
        self.status = GateStatus(GateState.NO_FACE)

    def reset(self) -> None:
        """Forget the followed face (and its cooldown); the next face is a new person."""
        self._track = None
        self.status = GateStatus(GateState.NO_FACE)

    def _choose(self, faces: list[DetectedFace]) -> DetectedFace | None:
        """The followed face if it is still there and not dwarfed, else the largest."""
        if not faces:
            return None
        largest = max(faces, key=lambda f: f.area)
        if self._track is not None:
            box = self._track.box
            same = max(faces, key=lambda f: box_iou(box, f))
            if (
                box_iou(box, same) >= self.new_person_iou
                and same.area * self.switch_area_ratio >= largest.area
            ):
                return same
        return largest

    def _keep_in_window(self, track: _Track, frame: Frame, face: DetectedFace) -> None:
        if not self.window_max_frames:
            return
        window = track.window
        if window and frame.timestamp_s - window[-1].timestamp_s < self._window_spacing_s * 0.9:
            return
        x1, y1, x2, y2 = (float(v) for v in face.xyxy)
        window.append(WindowFrame(frame.image, (x1, y1, x2, y2), frame.timestamp_s))
        while len(window) > self.window_max_frames:
            window.popleft()

    def _new_track(self, face: DetectedFace, now_s: float) -> _Track:
        track = _Track(self._next_track_id, face, now_s, now_s, window=deque())
        self._next_track_id += 1
        logger.debug("following face %d", track.track_id)
        return track

    def _set(self, state: GateState, track: _Track | None, now_s: float) -> None:
        if track is None:
            self.status = GateStatus(state)
            return
        progress = min(1.0, max(0.0, (now_s - track.still_since_s) / self.stable_s))
        self.status = GateStatus(state, track.box, progress, track.track_id)

    def update(self, frame: Frame) -> CaptureDecision | None:
        """Feed one frame; return a decision when a stable face is ready to upload."""
        now_s = frame.timestamp_s
        face = self._choose(self._detector.detect(frame.image))
        track = self._track

        if face is None:
            if track is not None and now_s - track.last_seen_s > self.forget_after_s:
                logger.debug("face %d gone for %.1f s; forgotten", track.track_id, now_s - track.last_seen_s)
                self._track = None
            self._set(GateState.NO_FACE, None, now_s)
            return None

        if (
            track is None
            or now_s - track.last_seen_s > self.forget_after_s
            or box_iou(track.box, face) < self.new_person_iou
        ):
            track = self._track = self._new_track(face, now_s)
        else:
            still = (
                now_s - track.last_seen_s <= self.lost_grace_s
                and box_iou(track.box, face) >= self.min_iou
                and centre_shift(track.box, face) <= self.max_centre_shift
            )
            track.box = face
            track.last_seen_s = now_s
            if not still:
                track.restart_window(now_s)
                self._set(GateState.MOVING, track, now_s)
                return None

        if min(face.width, face.height) < self.min_face_px:
            track.restart_window(now_s)
            self._set(GateState.TOO_SMALL, track, now_s)
            return None

        self._keep_in_window(track, frame, face)
        sharpness = face_sharpness(frame.image, face)
        if sharpness >= self.min_sharpness and (track.best is None or sharpness > track.best.sharpness):
            track.best = _Candidate(frame, face, sharpness)

        still_for_s = now_s - track.still_since_s
        if still_for_s < self.stable_s:
            self._set(GateState.STABILISING, track, now_s)
            return None
        if track.last_capture_s is not None and now_s - track.last_capture_s < self.cooldown_s:
            self._set(GateState.COOLDOWN, track, now_s)
            return None
        if track.best is None:
            logger.debug(
                "face %d stable but no frame reached sharpness %.0f", track.track_id, self.min_sharpness
            )
            self._set(GateState.BLURRY, track, now_s)
            return None

        best = track.best
        decision = CaptureDecision(
            image=best.frame.image,
            face=best.face,
            sharpness=best.sharpness,
            frame_index=best.frame.index,
            timestamp_s=best.frame.timestamp_s,
            captured_at=best.frame.captured_at,
            decided_at_s=now_s,
            stable_for_s=still_for_s,
            track_id=track.track_id,
            window=tuple(track.window),
        )
        self._set(GateState.CAPTURED, track, now_s)
        track.last_capture_s = now_s
        track.restart_window(now_s)
        logger.info(
            "face %d captured after %.1f s still (frame %d, sharpness %.0f)",
            track.track_id,
            still_for_s,
            best.frame.index,
            best.sharpness,
        )
        return decision
