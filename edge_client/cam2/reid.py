"""Keeping identity across track breaks, on appearance evidence only.

When a tagged track is lost (occlusion, a detector gap) and a new track appears nearby soon
after, the tracker has no way to know it is the same person. The USN moves to the new track only
when its body re-id embedding (OSNet) is similar enough to the lost track's: proximity and timing
pick the candidates, appearance decides. A track that entered through the door zone is never a
candidate: it is someone arriving, and belongs to their own door handoff.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import supervision as sv

from edge_client.cam2.errors import ModelLoadError
from edge_client.cam2.tracking import BodyEmbedder
from edge_client.cam2.tracks import TrackRecord, TrackRegistry
from vision.reid import OsnetEmbedder, ReidModelError

logger = logging.getLogger(__name__)


class OsnetBodyEmbedder:
    """OSNet re-id (``vision.reid``, shared with body_match) on the person boxes of a frame."""

    def __init__(self, weights_path: Path) -> None:
        try:
            # One thread: the person detector needs the other core.
            self._osnet = OsnetEmbedder(weights_path, intra_op_threads=1)
        except ReidModelError as e:
            raise ModelLoadError(str(e)) from e

    def embed(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        """Unit-length 512-d embeddings of the boxes ``xyxy`` in ``frame``."""
        return self._osnet.embed_boxes(frame, xyxy)


class IdentityKeeper:
    """Stage: refreshes tagged tracks' embeddings and carries a lost track's USN on re-id evidence.

    Args:
        embedder: body re-id model.
        similarity_threshold: cosine similarity a new track needs to the lost track to inherit
            its USN. Higher avoids wrong carries but loses more identities.
        carry_window_s: how soon after the loss the new track must appear.
        carry_radius_heights: how far from where the tagged track was last seen it may appear,
            in person heights, growing by one height per second lost. Scaled to the person: a
            pixel radius that suits a 1080p frame spans half of a 480x360 one.
        refresh_s: how often a tagged track's embedding is refreshed, and how often one
            candidate is re-checked. Shorter costs CPU (about 10 ms per crop).
        momentum: weight of the stored embedding when a fresh one is blended in; higher keeps a
            steadier appearance, lower follows changes (turning, lighting) faster.
    """

    def __init__(
        self,
        embedder: BodyEmbedder,
        similarity_threshold: float = 0.65,
        carry_window_s: float = 5.0,
        carry_radius_heights: float = 1.5,
        refresh_s: float = 1.0,
        momentum: float = 0.7,
    ) -> None:
        self.embedder = embedder
        self.similarity_threshold = similarity_threshold
        self.carry_window = timedelta(seconds=carry_window_s)
        self.carry_radius_heights = carry_radius_heights
        self.refresh = timedelta(seconds=refresh_s)
        self.momentum = momentum
        self._checked_at: dict[int, datetime] = {}

    def update_with_detections(
        self, detections: sv.Detections, frame: np.ndarray, at: datetime, registry: TrackRegistry
    ) -> sv.Detections:
        """Refresh embeddings of tagged live tracks, then try to carry USNs of lost ones."""
        for tracker_id in [t for t in self._checked_at if t not in registry.records]:
            del self._checked_at[tracker_id]
        self._refresh_tagged(detections, frame, at, registry)
        self._carry(detections, frame, at, registry)
        return detections

    def _boxes(self, detections: sv.Detections, tracker_ids: list[int]) -> np.ndarray:
        index = {
            int(t): i
            for i, t in enumerate(detections.tracker_id if detections.tracker_id is not None else [])
        }
        return np.array([detections.xyxy[index[t]] for t in tracker_ids], dtype=float).reshape(-1, 4)

    def _refresh_tagged(
        self, detections: sv.Detections, frame: np.ndarray, at: datetime, registry: TrackRegistry
    ) -> None:
        due = [
            r
            for r in registry.live()
            if r.usn is not None and (r.embedded_at is None or at - r.embedded_at >= self.refresh)
        ]
        if not due:
            return
        embeddings = self.embedder.embed(frame, self._boxes(detections, [r.tracker_id for r in due]))
        for record, embedding in zip(due, embeddings, strict=True):
            if record.embedding is None:
                record.embedding = embedding
            else:
                blended = self.momentum * record.embedding + (1.0 - self.momentum) * embedding
                record.embedding = blended / max(float(np.linalg.norm(blended)), 1e-12)
            record.embedded_at = at

    def _carry(
        self, detections: sv.Detections, frame: np.ndarray, at: datetime, registry: TrackRegistry
    ) -> None:
        lost = [
            r
            for r in registry.lost()
            if r.usn is not None and r.embedding is not None and at - r.last_seen_at <= self.carry_window
        ]
        if not lost:
            return
        candidates = [
            r
            for r in registry.live()
            if r.usn is None
            and not r.entered_through_door
            and any(self._plausible(old, r) for old in lost)
            and (r.tracker_id not in self._checked_at or at - self._checked_at[r.tracker_id] >= self.refresh)
        ]
        if not candidates:
            return
        embeddings = self.embedder.embed(frame, self._boxes(detections, [r.tracker_id for r in candidates]))
        pairs: list[tuple[float, TrackRecord, TrackRecord]] = []
        for record, embedding in zip(candidates, embeddings, strict=True):
            self._checked_at[record.tracker_id] = at
            for old in lost:
                if self._plausible(old, record):
                    assert old.embedding is not None
                    pairs.append((float(old.embedding @ embedding), old, record))
        # best evidence first; each lost and each new track takes part in at most one carry
        used: set[int] = set()
        for similarity, old, new in sorted(pairs, key=lambda p: -p[0]):
            if old.tracker_id in used or new.tracker_id in used:
                continue
            if similarity < self.similarity_threshold:
                logger.debug(
                    "track %d not carried %s from track %d: similarity %.2f",
                    new.tracker_id,
                    old.usn,
                    old.tracker_id,
                    similarity,
                )
                continue
            logger.info(
                "usn %s carried from lost track %d to track %d (re-id similarity %.2f)",
                old.usn,
                old.tracker_id,
                new.tracker_id,
                similarity,
            )
            registry.transfer(old.tracker_id, new.tracker_id)
            used.update({old.tracker_id, new.tracker_id})

    def _plausible(self, old: TrackRecord, new: TrackRecord) -> bool:
        """The new track appeared after the old one was lost, soon enough and near enough.

        Near is measured in the taller of the two people's heights, plus one height per second
        between the loss and the new track's birth (people walk on while hidden).
        """
        lost_for = new.first_seen_at - old.last_seen_at
        appeared_after = new.first_seen_at > old.last_seen_at
        soon = lost_for <= self.carry_window
        distance_px = float(
            np.hypot(new.first_anchor[0] - old.last_anchor[0], new.first_anchor[1] - old.last_anchor[1])
        )
        height_px = max(old.last_xyxy[3] - old.last_xyxy[1], new.last_xyxy[3] - new.last_xyxy[1], 1.0)
        radius_px = self.carry_radius_heights * height_px * (1.0 + max(lost_for.total_seconds(), 0.0))
        return appeared_after and soon and distance_px <= radius_px

    def reset(self) -> None:
        """Forget when candidates were last checked."""
        self._checked_at.clear()
