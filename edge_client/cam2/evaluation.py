"""Evaluation on MOTChallenge-style sequences: ground truth, cached detections, MOTA/IDF1/HOTA, AP50.

Shared by ``bench/cam2.py`` and the tests so both measure the same thing. Ground truth is MOT15
(``frame,id,x,y,w,h,conf,worldX,worldY,worldZ``); rows with ``conf == 0`` are "ignore" regions:
they count neither as misses nor, when a prediction covers one, as false positives.
"""

from __future__ import annotations

import configparser
import csv
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import supervision as sv

from edge_client.cam2.detection import PersonDetector, select
from edge_client.cam2.tracking import PersonTracker

IGNORE_MATCH_IOU = 0.5
MATCH_IOU = 0.5


@dataclass(frozen=True)
class GroundTruthBox:
    """One ground-truth person box of a MOT sequence."""

    frame: int
    identity: int
    xyxy: tuple[float, float, float, float]
    ignore: bool


@dataclass
class MotSequence:
    """A MOT sequence on disk: its frames (folder or video), rate, size and ground truth."""

    name: str
    root: Path
    fps: float
    width: int
    height: int
    length: int
    ground_truth: dict[int, list[GroundTruthBox]] = field(default_factory=dict)

    @property
    def source_path(self) -> Path:
        """The image folder (``img1``) if there is one, else the sequence's video file."""
        folder = self.root / "img1"
        if folder.is_dir():
            return folder
        videos = sorted(self.root.glob("*.mp4"))
        if not videos:
            raise FileNotFoundError(f"{self.root} has neither img1/ nor an .mp4")
        return videos[0]

    def frames(self, last_frame: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame_number, BGR image)``; frame numbers start at 1 as in the ground truth."""
        from edge_client.sources import open_source

        last = last_frame or self.length
        with open_source(self.source_path, fps=self.fps) as source:
            for frame in source:
                number = frame.index + 1
                if number > last:
                    break
                yield number, frame.image

    def gt_boxes(self, frame: int, *, ignore: bool = False) -> list[GroundTruthBox]:
        """Ground-truth boxes of one frame: the scored ones, or (``ignore=True``) the ignore ones."""
        return [box for box in self.ground_truth.get(frame, []) if box.ignore == ignore]

    def identity_frames(self) -> dict[int, list[GroundTruthBox]]:
        """Each scored identity's boxes in frame order."""
        tracks: dict[int, list[GroundTruthBox]] = defaultdict(list)
        for frame in sorted(self.ground_truth):
            for box in self.gt_boxes(frame):
                tracks[box.identity].append(box)
        return dict(tracks)


def load_mot_sequence(root: Path, *, fit_to_frames: bool = True) -> MotSequence:
    """Read ``seqinfo.ini`` and ``gt/gt.txt`` of a MOT sequence folder.

    With ``fit_to_frames`` the first frame is read: when its size differs from seqinfo's
    ``imWidth``/``imHeight`` (a video re-encoded at another resolution), the ground truth is
    scaled to the frames and ``width``/``height`` become the frames' own.
    """
    info = configparser.ConfigParser()
    info.read(root / "seqinfo.ini")
    section = info["Sequence"]
    sequence = MotSequence(
        name=section.get("name", root.name),
        root=root,
        fps=float(section["frameRate"]),
        width=int(section["imWidth"]),
        height=int(section["imHeight"]),
        length=int(section["seqLength"]),
    )
    with (root / "gt" / "gt.txt").open() as f:
        for row in csv.reader(f):
            frame, identity = int(float(row[0])), int(float(row[1]))
            x, y, w, h = (float(v) for v in row[2:6])
            box = GroundTruthBox(frame, identity, (x, y, x + w, y + h), ignore=float(row[6]) == 0.0)
            sequence.ground_truth.setdefault(frame, []).append(box)
    if fit_to_frames:
        first = next(iter(sequence.frames(1)), None)
        if first is not None:
            height, width = first[1].shape[:2]
            if (width, height) != (sequence.width, sequence.height):
                scale_x, scale_y = width / sequence.width, height / sequence.height
                sequence.ground_truth = {
                    frame: [
                        GroundTruthBox(
                            b.frame,
                            b.identity,
                            (
                                b.xyxy[0] * scale_x,
                                b.xyxy[1] * scale_y,
                                b.xyxy[2] * scale_x,
                                b.xyxy[3] * scale_y,
                            ),
                            b.ignore,
                        )
                        for b in boxes
                    ]
                    for frame, boxes in sequence.ground_truth.items()
                }
                sequence.width, sequence.height = width, height
    return sequence


_detection_cache: dict[tuple[str, str, int], list[sv.Detections]] = {}


def detect_sequence(
    sequence: MotSequence, detector: PersonDetector, *, last_frame: int | None = None, cache_key: str = ""
) -> list[sv.Detections]:
    """Run ``detector`` on every frame (index 0 = frame 1); cached per process when ``cache_key`` is set."""
    key = (str(sequence.root), cache_key, last_frame or sequence.length)
    if cache_key and key in _detection_cache:
        return _detection_cache[key]
    detections = [detector.detect(image) for _, image in sequence.frames(last_frame)]
    if cache_key:
        _detection_cache[key] = detections
    return detections


def track_sequence(
    detections: Sequence[sv.Detections],
    tracker: PersonTracker,
    fps: float,
    frames: Sequence[np.ndarray] | None = None,
    detect_every_n: int = 1,
    between: Literal["predict", "hold"] = "predict",
) -> list[sv.Detections]:
    """Feed cached per-frame detections through ``tracker`` at the sequence's frame times.

    ``frames`` (the decoded images, index 0 = frame 1) let an appearance-aware tracker embed.
    With ``detect_every_n`` above 1 only one frame in that many is detected: ``predict`` gives the
    others the tracker's predicted boxes (cam2 under ``person_detect_every_n``); ``hold`` keeps the
    last result on them, as when a client that cannot keep up drops the frames in between (build
    the tracker for the rate it then really runs at).
    """
    tracker.reset()
    out: list[sv.Detections] = []
    for i, d in enumerate(detections):
        if i % detect_every_n == 0:
            frame = frames[i] if frames is not None else None
            out.append(tracker.update_with_detections(d, timestamp_s=i / fps, frame=frame))
        elif between == "predict":
            out.append(tracker.predict(i / fps))
        else:
            out.append(out[-1])
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return sv.box_iou_batch(a, b)


def _drop_ignored(sequence: MotSequence, frame: int, predictions: sv.Detections) -> sv.Detections:
    """Remove predictions that cover an ignore region (they are neither right nor wrong)."""
    ignored = sequence.gt_boxes(frame, ignore=True)
    if not ignored or len(predictions) == 0:
        return predictions
    iou = _iou(predictions.xyxy, np.array([b.xyxy for b in ignored]))
    return select(predictions, iou.max(axis=1) < IGNORE_MATCH_IOU)


@dataclass(frozen=True)
class TrackingScores:
    """CLEAR, identity and HOTA figures of one tracked sequence."""

    mota: float
    idf1: float
    hota: float
    id_switches: int
    false_positives: int
    misses: int
    gt_boxes: int


def score_tracking(sequence: MotSequence, tracked: Sequence[sv.Detections]) -> TrackingScores:
    """MOTA and IDF1 (py-motmetrics, IoU >= 0.5) and HOTA (``trackers.eval``) of ``tracked``."""
    if not hasattr(np, "asfarray"):  # py-motmetrics still calls it; removed in NumPy 2
        np.asfarray = np.asarray  # type: ignore[attr-defined]
    import motmetrics as mm
    from trackers.eval import compute_hota_metrics

    accumulator = mm.MOTAccumulator(auto_id=True)
    hota_gt: list[np.ndarray] = []
    hota_pred: list[np.ndarray] = []
    hota_sim: list[np.ndarray] = []
    for index, predictions in enumerate(tracked):
        frame = index + 1
        predictions = _drop_ignored(sequence, frame, predictions)
        gt = sequence.gt_boxes(frame)
        gt_xyxy = np.array([b.xyxy for b in gt]).reshape(-1, 4)
        gt_ids = np.array([b.identity for b in gt], dtype=int)
        pred_ids = (
            np.asarray(predictions.tracker_id, dtype=int)
            if predictions.tracker_id is not None
            else np.zeros(0, dtype=int)
        )
        iou = _iou(gt_xyxy, predictions.xyxy)
        distances = np.where(iou >= MATCH_IOU, 1.0 - iou, np.nan)
        accumulator.update(gt_ids.tolist(), pred_ids.tolist(), distances)
        hota_gt.append(gt_ids)
        hota_pred.append(pred_ids)
        hota_sim.append(iou)
    summary = mm.metrics.create().compute(
        accumulator,
        metrics=["mota", "idf1", "num_switches", "num_false_positives", "num_misses", "num_objects"],
    )
    row = summary.iloc[0]
    hota = compute_hota_metrics(hota_gt, hota_pred, hota_sim)
    return TrackingScores(
        mota=float(row["mota"]),
        idf1=float(row["idf1"]),
        hota=float(hota["HOTA"]),
        id_switches=int(row["num_switches"]),
        false_positives=int(row["num_false_positives"]),
        misses=int(row["num_misses"]),
        gt_boxes=int(row["num_objects"]),
    )


def person_ap50(sequence: MotSequence, detections: Sequence[sv.Detections]) -> float:
    """Average precision at IoU 0.5 of person detections (VOC-style all-point interpolation)."""
    scored: list[tuple[float, bool]] = []
    total_gt = 0
    for index, predictions in enumerate(detections):
        frame = index + 1
        predictions = _drop_ignored(sequence, frame, predictions)
        gt = np.array([b.xyxy for b in sequence.gt_boxes(frame)]).reshape(-1, 4)
        total_gt += len(gt)
        if len(predictions) == 0:
            continue
        confidence = (
            predictions.confidence if predictions.confidence is not None else np.ones(len(predictions))
        )
        order = np.argsort(-confidence)
        iou = _iou(predictions.xyxy[order], gt)
        taken = np.zeros(len(gt), dtype=bool)
        for rank, det in enumerate(order):
            hit = False
            if len(gt):
                candidates = np.where((iou[rank] >= MATCH_IOU) & ~taken)[0]
                if len(candidates):
                    best = candidates[np.argmax(iou[rank, candidates])]
                    taken[best] = True
                    hit = True
            scored.append((float(confidence[det]), hit))
    if total_gt == 0 or not scored:
        return 0.0
    scored.sort(key=lambda item: -item[0])
    hits = np.array([hit for _, hit in scored], dtype=float)
    true_pos = np.cumsum(hits)
    precision = true_pos / np.arange(1, len(hits) + 1)
    recall = true_pos / total_gt
    # all-point interpolation: precision envelope, integrated over recall steps
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    recall_steps = np.diff(np.concatenate(([0.0], recall)))
    return float(np.sum(envelope * recall_steps))


def gt_identity_of(sequence: MotSequence, frame: int, xyxy: np.ndarray) -> int | None:
    """The ground-truth identity a predicted box covers (IoU >= 0.5, best match), if any."""
    gt = sequence.gt_boxes(frame)
    if not gt:
        return None
    iou = _iou(xyxy.reshape(1, 4), np.array([b.xyxy for b in gt]))[0]
    best = int(np.argmax(iou))
    return gt[best].identity if iou[best] >= MATCH_IOU else None


def identity_ceiling(sequence: MotSequence, tracked: Sequence[sv.Detections]) -> TrackingScores:
    """Scores of ``tracked``'s boxes with perfect identities: each box takes the ground-truth id
    it covers (IoU >= 0.5), every other box an id of its own.

    What identity work alone can reach on these boxes; the rest is missed or extra boxes.
    """
    relabelled = []
    spare = 1_000_000
    for index, predictions in enumerate(tracked):
        ids = []
        for xyxy in predictions.xyxy:
            identity = gt_identity_of(sequence, index + 1, xyxy)
            if identity is None:
                spare += 1
            ids.append(identity if identity is not None else spare)
        copy = sv.Detections(xyxy=predictions.xyxy.copy(), tracker_id=np.array(ids, dtype=int).reshape(-1))
        relabelled.append(copy)
    return score_tracking(sequence, relabelled)
