"""Multi-person tracking behind one interface: ``update_with_detections`` and ``reset``.

The ByteTrack implementation is roboflow's ``trackers.ByteTrackTracker``. Another tracker (for
example ultralytics' own ByteTrack) fits behind the same :class:`PersonTracker` protocol.
"""

from __future__ import annotations

import warnings
from typing import Protocol

import numpy as np
import supervision as sv

from edge_client.cam2.detection import select

# trackers expresses its lost-track buffer in frames of a 30 fps reference video.
_TRACKERS_REFERENCE_FPS = 30.0


class PersonTracker(Protocol):
    """Gives each detected person a persistent ``tracker_id``."""

    def update_with_detections(self, detections: sv.Detections, timestamp_s: float) -> sv.Detections:
        """Return the tracked detections of this frame, each with a ``tracker_id``."""
        ...

    def reset(self) -> None:
        """Forget every track (new scene or new source)."""
        ...


class ByteTrackPersonTracker:
    """ByteTrack (two-stage association: high-score boxes first, then low-score ones).

    Args:
        activation_threshold: score a detection needs to start a new track; higher means fewer
            ghost tracks but later births.
        high_confidence: score separating the high and low association stages.
        lost_buffer_s: how long a lost track may come back under its id; longer bridges
            occlusions but lets a stale track grab a different person.
        min_iou: least IoU between a predicted track and a detection to associate them.
        min_consecutive_frames: frames a new track must be seen before it gets an id.
        frame_rate: nominal frame rate, used only for the very first frame's motion step.
    """

    def __init__(
        self,
        activation_threshold: float = 0.5,
        high_confidence: float = 0.5,
        lost_buffer_s: float = 2.0,
        min_iou: float = 0.1,
        min_consecutive_frames: int = 2,
        frame_rate: float = 10.0,
    ) -> None:
        from trackers import ByteTrackTracker

        self._tracker = ByteTrackTracker(
            lost_track_buffer=round(lost_buffer_s * _TRACKERS_REFERENCE_FPS),
            frame_rate=frame_rate,
            track_activation_threshold=activation_threshold,
            minimum_consecutive_frames=min_consecutive_frames,
            minimum_iou_threshold=min_iou,
            high_conf_det_threshold=high_confidence,
        )

    def update_with_detections(self, detections: sv.Detections, timestamp_s: float) -> sv.Detections:
        """Track this frame's detections; only boxes with a confirmed ``tracker_id`` are returned.

        Args:
            detections: this frame's people.
            timestamp_s: frame time in seconds, strictly increasing (media or monotonic time);
                the motion model uses the real gap between frames.
        """
        with warnings.catch_warnings():
            # Duplicate timestamps are skipped by the tracker with a warning; a replay at a
            # fixed rate never produces them, a live camera occasionally does.
            warnings.simplefilter("ignore", UserWarning)
            tracked = self._tracker.update(detections, timestamp=timestamp_s)
        if tracked.tracker_id is None or len(tracked) == 0:
            return sv.Detections.empty()
        return select(tracked, np.asarray(tracked.tracker_id) >= 0)

    def reset(self) -> None:
        """Forget every track; the next ids start again from the beginning."""
        self._tracker.reset()
