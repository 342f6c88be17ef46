"""Multi-person tracking behind one interface: ``update_with_detections`` and ``reset``.

The motion tracker is roboflow's ``trackers`` library (ByteTrack by default; BoT-SORT and
OC-SORT from the same library fit behind the same :class:`PersonTracker` protocol and are
compared in ``bench/cam2.py``). :class:`IdentityGuard` sits between that library and the rest
of cam2 and owns the ids cam2 sees. It does two things a motion tracker cannot:

- **entry-aware births**: a library track that reappears *inside the door zone* after being
  lost, or leaps into it from elsewhere, is someone else entering, not the same person: it gets
  a fresh id, so the door-entry track exists and a handoff can tag it;
- **appearance-assisted re-linking**: when the library starts a new track outside the door zone
  soon after another was lost nearby (distance in person heights), the OSNet body embeddings
  decide whether it is the same person coming back; only then does the old id continue.

Its :class:`FrameEdges` stage then widens people the frame's side edges cut to the width they
had in full view and stops reporting people mostly out of the frame.
"""

from __future__ import annotations

import copy
import logging
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import supervision as sv

from edge_client.cam2.detection import select

if TYPE_CHECKING:
    from edge_client.cam2.settings import Cam2Settings

logger = logging.getLogger(__name__)

# trackers expresses its lost-track buffer in frames of a 30 fps reference video.
_TRACKERS_REFERENCE_FPS = 30.0
# Uncut boxes whose width-to-height ratio stands in for a track first seen cut by the frame's edge.
_ASPECT_HISTORY = 50

TrackerKind = Literal["bytetrack", "botsort", "ocsort"]


class PersonTracker(Protocol):
    """Gives each detected person a persistent ``tracker_id``."""

    def update_with_detections(
        self, detections: sv.Detections, timestamp_s: float, frame: np.ndarray | None = None
    ) -> sv.Detections:
        """Return the tracked detections of this frame, each with a ``tracker_id``.

        ``frame`` (BGR) lets appearance-aware trackers embed the boxes; others ignore it.
        """
        ...

    def reset(self) -> None:
        """Forget every track (new scene or new source)."""
        ...

    def predict(self, timestamp_s: float) -> sv.Detections:
        """The tracks of the last update, moved by their motion model to ``timestamp_s``.

        For frames the detector skips (``person_detect_every_n``): tracks keep their ids and get
        predicted boxes, and no track state changes, so the next real update sees the true gap.
        """
        ...


class BodyEmbedder(Protocol):
    """Turns person boxes of a frame into L2-normalised appearance embeddings."""

    def embed(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        """One unit-length row per box of ``xyxy`` (``(N, 4)`` pixels) in ``frame`` (BGR)."""
        ...


def _library_tracker(
    kind: TrackerKind,
    *,
    activation_threshold: float,
    high_confidence: float,
    lost_buffer_s: float,
    min_iou: float,
    min_consecutive_frames: int,
    frame_rate: float,
    iou: str,
) -> Any:
    import trackers

    lost_track_buffer = round(lost_buffer_s * _TRACKERS_REFERENCE_FPS)
    similarity: Any = {"iou": trackers.IoU(), "giou": trackers.GIoU(), "diou": trackers.DIoU()}[iou]
    if kind == "bytetrack":
        return trackers.ByteTrackTracker(
            lost_track_buffer=lost_track_buffer,
            frame_rate=frame_rate,
            track_activation_threshold=activation_threshold,
            minimum_consecutive_frames=min_consecutive_frames,
            minimum_iou_threshold=min_iou,
            high_conf_det_threshold=high_confidence,
            iou=similarity,
        )
    if kind == "botsort":
        return trackers.BoTSORTTracker(
            lost_track_buffer=lost_track_buffer,
            frame_rate=frame_rate,
            track_activation_threshold=activation_threshold,
            minimum_consecutive_frames=min_consecutive_frames,
            high_conf_det_threshold=high_confidence,
            enable_cmc=False,  # a classroom camera is fixed
            iou=similarity,
        )
    return trackers.OCSORTTracker(
        lost_track_buffer=lost_track_buffer,
        frame_rate=frame_rate,
        minimum_consecutive_frames=min_consecutive_frames,
        minimum_iou_threshold=max(min_iou, 0.1),
        high_conf_det_threshold=high_confidence,
        iou=similarity,
    )


class ByteTrackPersonTracker:
    """A ``trackers`` motion tracker (ByteTrack: high-score boxes first, then low-score ones).

    Args:
        activation_threshold: score a detection needs to start a new track; higher means fewer
            ghost tracks but later births.
        high_confidence: score separating the high and low association stages.
        lost_buffer_s: how long a lost track may come back under its id; longer bridges
            occlusions but lets a stale track grab a different person.
        min_iou: least overlap (in the ``iou`` measure) between a predicted track and a
            detection to associate them.
        min_consecutive_frames: frames a new track must be seen before it gets an id.
        frame_rate: nominal frame rate, used only for the very first frame's motion step.
        iou: overlap measure of the association: ``"giou"`` (generalised IoU) still ranks
            boxes that barely overlap, which keeps fast walkers on their track at low frame
            rates; ``"iou"`` is plain IoU.
        kind: which library tracker: ``"bytetrack"``, ``"botsort"`` or ``"ocsort"``.
    """

    def __init__(
        self,
        activation_threshold: float = 0.5,
        high_confidence: float = 0.5,
        lost_buffer_s: float = 1.0,
        min_iou: float = 0.2,
        min_consecutive_frames: int = 2,
        frame_rate: float = 10.0,
        iou: Literal["iou", "giou", "diou"] = "giou",
        kind: TrackerKind = "bytetrack",
    ) -> None:
        self._tracker = _library_tracker(
            kind,
            activation_threshold=activation_threshold,
            high_confidence=high_confidence,
            lost_buffer_s=lost_buffer_s,
            min_iou=min_iou,
            min_consecutive_frames=min_consecutive_frames,
            frame_rate=frame_rate,
            iou=iou,
        )
        self._frame_rate = frame_rate
        self._kind = kind
        self._last: sv.Detections = sv.Detections.empty()
        self._last_timestamp_s: float | None = None

    def update_with_detections(
        self, detections: sv.Detections, timestamp_s: float, frame: np.ndarray | None = None
    ) -> sv.Detections:
        """Track this frame's detections; only boxes with a confirmed ``tracker_id`` are returned.

        Args:
            detections: this frame's people.
            timestamp_s: frame time in seconds, strictly increasing (media or monotonic time);
                the motion model uses the real gap between frames.
            frame: unused (motion only).
        """
        first = self._last_timestamp_s is None
        with warnings.catch_warnings():
            # Duplicate timestamps are skipped by the tracker with a warning; a replay at a
            # fixed rate never produces them, a live camera occasionally does.
            warnings.simplefilter("ignore", UserWarning)
            tracked = self._tracker.update(detections, timestamp=timestamp_s)
        if first and self._kind == "bytetrack" and tracked.tracker_id is not None:
            self._activate_first_frame(tracked)
        if tracked.tracker_id is None or len(tracked) == 0:
            tracked = sv.Detections.empty()
        else:
            tracked = select(tracked, np.asarray(tracked.tracker_id) >= 0)
        # A copy: later stages replace the ids of what is returned (the guard's public ids).
        self._last, self._last_timestamp_s = copy.deepcopy(tracked), timestamp_s
        return tracked

    def _activate_first_frame(self, tracked: sv.Detections) -> None:
        """Give the tracks born on a source's first frame their ids at once.

        The people in view when the camera starts are not flicker that
        ``min_consecutive_frames`` should wait out; the library's BoT-SORT does the same
        (``instant_first_frame_activation``), its ByteTrack does not.
        """
        ids = np.asarray(tracked.tracker_id, dtype=int).copy()
        for tracklet in self._tracker.tracks:
            if tracklet.tracker_id != -1:
                continue
            box = np.asarray(tracklet.get_state_bbox(), dtype=float)
            rows = [
                row
                for row in range(len(tracked))
                if ids[row] == -1 and np.allclose(tracked.xyxy[row], box, atol=1e-3)
            ]
            if rows:
                tracklet.tracker_id = self._tracker._allocate_tracker_id()
                ids[rows[0]] = tracklet.tracker_id
        tracked.tracker_id = ids

    def predict(self, timestamp_s: float) -> sv.Detections:
        """The tracks matched by the last update, each box moved by a copy of its Kalman filter.

        The library's own filters are left alone: the next update predicts over the whole gap
        since the last detection, as if these frames had not been seen.
        """
        if len(self._last) == 0 or self._last_timestamp_s is None or self._last.tracker_id is None:
            return sv.Detections.empty()
        frame_step = max(timestamp_s - self._last_timestamp_s, 0.0) * self._frame_rate
        tracklets = {
            int(t.tracker_id): t
            for t in self._tracker.tracks
            if t.tracker_id >= 0 and t.time_since_update == 0
        }
        keep, boxes = [], []
        for index, library_id in enumerate(self._last.tracker_id.tolist()):
            tracklet = tracklets.get(int(library_id))
            if tracklet is None:
                continue
            estimator = getattr(tracklet, "state_estimator", None)
            if estimator is None:  # a tracker without a Kalman state: the box stays where it was
                boxes.append(self._last.xyxy[index])
            else:
                estimator = copy.deepcopy(estimator)
                estimator.predict(frame_step, self._frame_rate)
                boxes.append(estimator.state_to_bbox())
            keep.append(index)
        predicted = select(self._last, np.isin(np.arange(len(self._last)), keep))
        predicted.xyxy = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        return predicted

    def reset(self) -> None:
        """Forget every track; the next ids start again from the beginning."""
        self._tracker.reset()
        self._last, self._last_timestamp_s = sv.Detections.empty(), None


class FrameEdges:
    """People cut by the frame's left or right edge: full-width boxes, and none once mostly out.

    A detector boxes only the visible part of someone the frame's edge cuts, so the box shrinks
    as they walk out and its centre stays inside the frame until they are gone. This stage
    gives such a box the width the person's track had in full view (from the last
    ``history`` uncut sightings; a track first seen cut takes the typical width-to-height ratio
    of the people seen so far), reaching past the edge, and drops it when that full box's
    centre is past the edge: the person is mostly out of view, leaving or not yet in.

    Boxes keep their heights; the top and bottom edges are left alone.

    Args:
        margin_px: a box side this close to the frame's edge counts as cut by it.
        history: uncut widths remembered per track.
        default_aspect: width / height of a standing person before any has been seen uncut.
    """

    def __init__(self, margin_px: float = 2.0, history: int = 10, default_aspect: float = 0.4) -> None:
        self.margin_px = margin_px
        self.history = history
        self.default_aspect = default_aspect
        self.reset()

    def reset(self) -> None:
        """Forget every track's width."""
        self._widths: dict[int, list[float]] = {}
        self._aspects: list[float] = []
        self._frame_width: int | None = None

    def apply(
        self, tracked: sv.Detections, frame_width: int | None = None, *, learn: bool = True
    ) -> sv.Detections:
        """``tracked`` with cut boxes widened and mostly-out people removed.

        Args:
            tracked: boxes with their public ``tracker_id``.
            frame_width: the frame's width in pixels (``None``: the last one given; none yet: the
                boxes are returned unchanged).
            learn: remember the widths of uncut boxes (a predicted frame teaches nothing).
        """
        if frame_width is not None:
            self._frame_width = frame_width
        width = self._frame_width
        if width is None or len(tracked) == 0 or tracked.tracker_id is None:
            return tracked
        boxes = np.asarray(tracked.xyxy, dtype=np.float64).copy()
        keep = np.ones(len(tracked), dtype=bool)
        for index, tracker_id in enumerate(int(t) for t in tracked.tracker_id):
            x1, y1, x2, y2 = boxes[index]
            cut_left, cut_right = x1 <= self.margin_px, x2 >= width - 1 - self.margin_px
            if not (cut_left or cut_right):
                if learn:
                    widths = self._widths.setdefault(tracker_id, [])
                    widths.append(x2 - x1)
                    del widths[: -self.history]
                    self._aspects.append((x2 - x1) / max(y2 - y1, 1.0))
                    del self._aspects[:-_ASPECT_HISTORY]
                continue
            if cut_left and cut_right:  # someone filling the frame's width: nothing to say
                continue
            full = self._full_width(tracker_id, y2 - y1)
            if x2 - x1 < full:
                x1, x2 = (x2 - full, x2) if cut_left else (x1, x1 + full)
                boxes[index] = (x1, y1, x2, y2)
            centre = (x1 + x2) / 2.0
            keep[index] = 0.0 <= centre <= width
        if learn:
            live = {int(t) for t in tracked.tracker_id}
            if len(self._widths) > 4 * max(len(live), 16):
                self._widths = {k: v for k, v in self._widths.items() if k in live}
        out = select(tracked, keep)  # a new Detections: the caller's boxes stay as they were
        out.xyxy = boxes[keep].astype(np.asarray(tracked.xyxy).dtype)
        return out

    def _full_width(self, tracker_id: int, height: float) -> float:
        widths = self._widths.get(tracker_id)
        if widths:
            return float(np.median(widths))
        aspect = float(np.median(self._aspects)) if self._aspects else self.default_aspect
        return aspect * max(height, 1.0)


@dataclass
class _PublicTrack:
    """What the guard remembers of one public id."""

    tracker_id: int
    last_seen_s: float
    last_xyxy: np.ndarray
    in_door: bool
    embedding: np.ndarray | None = None
    embedded_s: float | None = None


def _feet(xyxy: np.ndarray) -> tuple[float, float]:
    return float(xyxy[0] + xyxy[2]) / 2.0, float(xyxy[3])


def _height(xyxy: np.ndarray) -> float:
    return max(float(xyxy[3] - xyxy[1]), 1.0)


class IdentityGuard:
    """Stage between a motion tracker and cam2: door-protected births and appearance re-links.

    The public ``tracker_id`` it hands out differs from the library's: a library track may be
    split (it jumped onto someone entering through the door) or joined to an older public id
    (appearance says it is the same person back after a break).

    Args:
        tracker: the motion tracker.
        door_polygon: the door zone (pixel vertices); empty: no door protection.
        embedder: body re-id model for re-linking; ``None``: no re-linking.
        relink_window_s: how long after a public id was lost a new track may continue it.
            Longer mends longer occlusions, but more people are candidates.
        relink_radius_heights: how far (in person heights, growing by one height per second
            lost) the new track may appear from where the lost one was. The scale follows the
            person, so it means the same on a 480x360 and a 1920x1080 frame.
        relink_similarity: cosine similarity of body embeddings needed to re-link. Higher
            leaves more breaks unmended but never joins two people on weak evidence.
        refresh_s: how often each live track's embedding is refreshed (about 10 ms per crop).
        momentum: weight of the stored embedding when a fresh one is blended in.
        door_leap_heights: a track that moves into the door zone by more than this many of its
            heights between two sightings (or after going unseen) is split off as a new entry.
        room_leap_heights: a track that moves more than this many heights (plus one per second
            unseen) anywhere else between two sightings is split off: no one moves that fast,
            so the library has put the id on someone else. 0 turns it off.
        startup_s: births in the first seconds of a source are people already in the room, so
            they are not protected as door entries.
        frame_edges: widens people cut by the frame's left or right edge and drops those
            mostly out of view (:class:`FrameEdges`); ``None``: boxes as the tracker gives them.
    """

    def __init__(
        self,
        tracker: PersonTracker,
        door_polygon: list[tuple[int, int]] | np.ndarray | None = None,
        embedder: BodyEmbedder | None = None,
        relink_window_s: float = 3.0,
        relink_radius_heights: float = 1.5,
        relink_similarity: float = 0.65,
        refresh_s: float = 1.0,
        momentum: float = 0.8,
        door_leap_heights: float = 0.5,
        room_leap_heights: float = 1.5,
        startup_s: float = 0.0,
        frame_edges: FrameEdges | None = None,
    ) -> None:
        self.tracker = tracker
        self.frame_edges = frame_edges
        self.door_polygon = np.asarray(door_polygon if door_polygon is not None else [], dtype=np.float32)
        self.door_polygon = self.door_polygon.reshape(-1, 2)
        self.embedder = embedder
        self.relink_window_s = relink_window_s
        self.relink_radius_heights = relink_radius_heights
        self.relink_similarity = relink_similarity
        self.refresh_s = refresh_s
        self.momentum = momentum
        self.door_leap_heights = door_leap_heights
        self.room_leap_heights = room_leap_heights
        self.startup_s = startup_s
        self.relinks = 0
        self.door_splits = 0
        self.leap_splits = 0
        self.reset()

    def reset(self) -> None:
        """Forget every track and mapping."""
        self.tracker.reset()
        if self.frame_edges is not None:
            self.frame_edges.reset()
        self._public_of: dict[int, int] = {}
        self._tracks: dict[int, _PublicTrack] = {}
        self._next_id = 1
        self._started_s: float | None = None

    def _in_door(self, xyxy: np.ndarray) -> bool:
        if len(self.door_polygon) < 3:
            return False
        import cv2

        x, y = _feet(xyxy)
        return bool(cv2.pointPolygonTest(self.door_polygon, (x, y), False) >= 0)

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def update_with_detections(
        self, detections: sv.Detections, timestamp_s: float, frame: np.ndarray | None = None
    ) -> sv.Detections:
        """Track, then split door leaps and re-link breaks; return detections with public ids."""
        if self._started_s is None:
            self._started_s = timestamp_s
        tracked = self.tracker.update_with_detections(detections, timestamp_s, frame)
        if len(tracked) == 0 or tracked.tracker_id is None:
            return tracked
        library_ids = [int(t) for t in tracked.tracker_id]
        in_door = [self._in_door(box) for box in tracked.xyxy]
        public: list[int | None] = [None] * len(tracked)
        births: list[int] = []
        for index, library_id in enumerate(library_ids):
            public_id = self._public_of.get(library_id)
            if public_id is None:
                births.append(index)
                continue
            if self._leapt(public_id, tracked.xyxy[index], in_door[index], timestamp_s):
                # The library moved this id onto someone else (entering, or far away): that
                # person is a birth of their own, and the old id is lost, free to be re-linked.
                logger.info(
                    "track %d leapt%s: split off", public_id, " into the door zone" if in_door[index] else ""
                )
                del self._public_of[library_id]
                if in_door[index]:
                    self.door_splits += 1
                else:
                    self.leap_splits += 1
                births.append(index)
                continue
            public[index] = public_id
        live = {p for p in public if p is not None}
        relinkable = [i for i in births if not in_door[i] or self._starting(timestamp_s)]
        embeddings = self._embed_births(tracked, relinkable, frame)
        for index in births:
            continued = None
            if index in relinkable:
                continued = self._relink_target(tracked.xyxy[index], embeddings.get(index), timestamp_s, live)
            public_id = continued if continued is not None else self._new_id()
            if continued is not None:
                self.relinks += 1
                logger.info("library track %d continues track %d (appearance)", library_ids[index], continued)
            self._public_of[library_ids[index]] = public_id
            public[index] = public_id
            live.add(public_id)
        ids = np.array(public, dtype=int)
        self._remember(tracked, ids, in_door, embeddings, frame, timestamp_s)
        tracked.tracker_id = ids
        if self.frame_edges is not None:
            tracked = self.frame_edges.apply(tracked, frame.shape[1] if frame is not None else None)
        return tracked

    def predict(self, timestamp_s: float) -> sv.Detections:
        """The motion tracker's predicted boxes under their public ids; the guard's memory is unchanged.

        A skipped frame is no sighting: leaps, births, re-links and embeddings wait for the next
        frame the detector sees.
        """
        predicted = self.tracker.predict(timestamp_s)
        if len(predicted) == 0 or predicted.tracker_id is None:
            return sv.Detections.empty()
        public = [self._public_of.get(int(t)) for t in predicted.tracker_id]
        known = select(predicted, np.array([p is not None for p in public]))
        known.tracker_id = np.array([p for p in public if p is not None], dtype=int)
        if self.frame_edges is not None:
            known = self.frame_edges.apply(known, learn=False)
        return known

    def _starting(self, timestamp_s: float) -> bool:
        return self._started_s is not None and timestamp_s - self._started_s <= self.startup_s

    def _leapt(self, public_id: int, xyxy: np.ndarray, in_door: bool, timestamp_s: float) -> bool:
        """Whether the library's new box for this id is too far from where it was to be one person.

        Into the door zone from outside it, half a height is enough; elsewhere it takes
        ``room_leap_heights`` plus one height per second unseen (people walk on while hidden).
        """
        track = self._tracks.get(public_id)
        if track is None:
            return False
        step = float(np.hypot(*(np.subtract(_feet(xyxy), _feet(track.last_xyxy)))))
        height = _height(track.last_xyxy)
        if in_door and not track.in_door:
            return step > self.door_leap_heights * height
        if self.room_leap_heights <= 0:
            return False
        unseen_s = max(timestamp_s - track.last_seen_s, 0.0)
        return step > height * (self.room_leap_heights + unseen_s)

    def _embed_births(
        self, tracked: sv.Detections, births: list[int], frame: np.ndarray | None
    ) -> dict[int, np.ndarray]:
        if self.embedder is None or frame is None or not self._any_lost_candidate():
            return {}
        wanted = list(births)
        if not wanted:
            return {}
        rows = self.embedder.embed(frame, tracked.xyxy[wanted])
        return {index: row for index, row in zip(wanted, rows, strict=True)}

    def _any_lost_candidate(self) -> bool:
        return any(t.embedding is not None for t in self._tracks.values())

    def _relink_target(
        self, xyxy: np.ndarray, embedding: np.ndarray | None, timestamp_s: float, live: set[int]
    ) -> int | None:
        if embedding is None:
            return None
        best: tuple[float, int] | None = None
        for public_id, track in self._tracks.items():
            lost_s = timestamp_s - track.last_seen_s
            if public_id in live or track.embedding is None or lost_s > self.relink_window_s:
                continue
            scale = max(_height(xyxy), _height(track.last_xyxy))
            distance = np.hypot(*(np.subtract(_feet(xyxy), _feet(track.last_xyxy)))) / scale
            if distance > self.relink_radius_heights * (1.0 + lost_s):
                continue
            similarity = float(track.embedding @ embedding)
            if similarity >= self.relink_similarity and (best is None or similarity > best[0]):
                best = (similarity, public_id)
        return None if best is None else best[1]

    def _remember(
        self,
        tracked: sv.Detections,
        ids: np.ndarray,
        in_door: list[bool],
        fresh: dict[int, np.ndarray],
        frame: np.ndarray | None,
        timestamp_s: float,
    ) -> None:
        for index, public_id in enumerate(ids.tolist()):
            track = self._tracks.get(public_id)
            if track is None:
                track = _PublicTrack(public_id, timestamp_s, tracked.xyxy[index].copy(), in_door[index])
                self._tracks[public_id] = track
            track.last_seen_s, track.last_xyxy, track.in_door = (
                timestamp_s,
                tracked.xyxy[index].copy(),
                in_door[index],
            )
        if self.embedder is not None and frame is not None:
            due = [
                index
                for index, public_id in enumerate(ids.tolist())
                if index in fresh
                or self._tracks[public_id].embedded_s is None
                or timestamp_s - (self._tracks[public_id].embedded_s or 0.0) >= self.refresh_s
            ]
            missing = [i for i in due if i not in fresh]
            if missing:
                fresh = {
                    **fresh,
                    **dict(zip(missing, self.embedder.embed(frame, tracked.xyxy[missing]), strict=True)),
                }
            for index in due:
                track = self._tracks[int(ids[index])]
                embedding = fresh[index]
                if track.embedding is None:
                    track.embedding = embedding
                else:
                    blended = self.momentum * track.embedding + (1.0 - self.momentum) * embedding
                    track.embedding = blended / max(float(np.linalg.norm(blended)), 1e-12)
                track.embedded_s = timestamp_s
        horizon = timestamp_s - max(self.relink_window_s, 1.0) * 2
        for public_id in [p for p, t in self._tracks.items() if t.last_seen_s < horizon]:
            del self._tracks[public_id]
        live_library = set(self._public_of)
        if len(live_library) > 4 * max(len(self._tracks), 16):
            keep = set(self._tracks)
            self._public_of = {k: v for k, v in self._public_of.items() if v in keep}


def build_tracker(
    settings: Cam2Settings,
    *,
    frame_rate: float,
    embedder: BodyEmbedder | None = None,
    detect_every_n: int = 1,
) -> IdentityGuard:
    """The tracker the settings describe: library tracker, door protection, appearance re-links.

    Args:
        settings: cam2 settings.
        frame_rate: nominal frame rate of the source.
        embedder: body re-id model for re-linking (``None``: motion and door protection only).
        detect_every_n: the detector runs on one frame in this many; the others are predicted,
            so a new track needs this many times more frames to be confirmed.
    """
    motion = ByteTrackPersonTracker(
        activation_threshold=settings.track_activation_threshold,
        high_confidence=settings.track_high_confidence,
        lost_buffer_s=settings.track_lost_buffer_s,
        min_iou=settings.track_min_iou,
        min_consecutive_frames=settings.track_min_consecutive_frames,
        frame_rate=frame_rate,
        iou=settings.track_iou,
        kind=settings.tracker,
    )
    return IdentityGuard(
        motion,
        settings.door_zone,
        embedder if settings.track_relink_enabled else None,
        relink_window_s=settings.track_relink_window_s,
        relink_radius_heights=settings.track_relink_radius_heights,
        relink_similarity=settings.track_relink_similarity,
        refresh_s=settings.track_relink_refresh_s,
        startup_s=(settings.track_min_consecutive_frames + 1) * detect_every_n / max(frame_rate, 1e-3),
        frame_edges=FrameEdges() if settings.track_frame_edges else None,
    )
