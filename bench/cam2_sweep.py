"""cam2 tracking parameters tried on both shared sequences with one set for both: IDF1 and ceiling.

Usage::

    .venv/bin/python bench/cam2_sweep.py          # one knob at a time from the defaults
    .venv/bin/python bench/cam2_sweep.py --grid   # plus the combinations of the promising knobs

The detector runs once per sequence at confidence 0.05 and NMS IoU per row; lower-confidence
boxes and short boxes are then filtered out exactly as the detector would (NMS keeps a box only
against higher-scoring ones, so filtering after it is the same as a higher threshold). The
ceiling is the IDF1 of the boxes a setting keeps with perfect identities: what association
alone could reach. Speed does not depend on these knobs (see bench/cam2.py's speed table).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.cam2 import DATA_DIR, DOORS, WEIGHTS, settings_for, table  # noqa: E402
from bench.machine import describe_machine  # noqa: E402
from edge_client.cam2.detection import YoloPersonDetector, drop_distant, select  # noqa: E402
from edge_client.cam2.evaluation import (  # noqa: E402
    MotSequence,
    identity_ceiling,
    load_mot_sequence,
    score_tracking,
    track_sequence,
)
from edge_client.cam2.reid import OsnetBodyEmbedder  # noqa: E402
from edge_client.cam2.tracking import build_tracker  # noqa: E402

LOWEST_CONFIDENCE = 0.05
DETECTOR_KNOBS = ("person_confidence", "person_iou", "person_min_height_fraction")

ONE_KNOB: list[tuple[str, dict[str, Any]]] = [
    ("default", {}),
    *[(f"detector confidence {v}", {"person_confidence": v}) for v in (0.05, 0.2)],
    *[(f"NMS IoU {v}", {"person_iou": v}) for v in (0.5, 0.6, 0.8)],
    *[(f"min height {v}", {"person_min_height_fraction": v}) for v in (0.0, 0.06, 0.12)],
    *[(f"high/low split {v}", {"track_high_confidence": v}) for v in (0.3, 0.4, 0.6)],
    *[(f"activation {v}", {"track_activation_threshold": v}) for v in (0.3, 0.4, 0.6)],
    *[(f"lost buffer {v} s", {"track_lost_buffer_s": v}) for v in (0.5, 2.0, 3.0)],
    *[(f"min IoU {v}", {"track_min_iou": v}) for v in (0.1, 0.3)],
    *[(f"min consecutive {v}", {"track_min_consecutive_frames": v}) for v in (1, 3)],
    *[(f"re-link similarity {v}", {"track_relink_similarity": v}) for v in (0.55, 0.6, 0.7)],
    *[(f"re-link radius {v}", {"track_relink_radius_heights": v}) for v in (1.0, 2.5)],
    *[(f"re-link window {v} s", {"track_relink_window_s": v}) for v in (1.5, 5.0)],
]


def grid() -> list[tuple[str, dict[str, Any]]]:
    """Combinations of the knobs that moved TUD-Campus in the one-knob table."""
    rows = []
    for conf, window, similarity, split, min_iou in itertools.product(
        (0.1, 0.15, 0.2, 0.25), (1.0, 1.5, 2.0, 3.0), (0.6, 0.65), (0.4, 0.5), (0.2, 0.3)
    ):
        rows.append(
            (
                f"conf {conf} window {window} sim {similarity} split {split} min IoU {min_iou}",
                {
                    "person_confidence": conf,
                    "track_relink_window_s": window,
                    "track_relink_similarity": similarity,
                    "track_high_confidence": split,
                    "track_min_iou": min_iou,
                },
            )
        )
    return rows


class Detections:
    """Each sequence's raw detections per NMS IoU, filtered per row."""

    def __init__(self, weights: Path) -> None:
        self._weights = weights
        self._raw: dict[tuple[str, float], list[sv.Detections]] = {}

    def get(
        self,
        sequence: MotSequence,
        frames: list[np.ndarray],
        iou: float,
        confidence: float,
        min_height: float,
    ) -> list[sv.Detections]:
        key = (sequence.name, iou)
        if key not in self._raw:
            detector = YoloPersonDetector(self._weights, LOWEST_CONFIDENCE, iou, 640, 0.0)
            self._raw[key] = [detector.detect(image) for image in frames]
        kept = []
        for detections in self._raw[key]:
            strong = select(detections, np.asarray(detections.confidence) >= confidence)
            kept.append(drop_distant(strong, sequence.height, min_height))
        return kept


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table (and the grid's best rows with ``--grid``)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--grid", action="store_true", help="Also run the combinations.")
    args = parser.parse_args(argv)
    weights = WEIGHTS["openvino"]
    embedder = OsnetBodyEmbedder(settings_for(None, weights).reid_weights_path)
    sequences = {}
    for name in DOORS:
        sequence = load_mot_sequence(DATA_DIR / name)
        sequences[name] = (sequence, [image for _, image in sequence.frames()])
    detections = Detections(weights)
    rows = []
    variants = ONE_KNOB + (grid() if args.grid else [])
    for label, changes in variants:
        row: list[object] = [label]
        for name, (sequence, frames) in sequences.items():
            settings = settings_for(DOORS[name], weights, **changes)
            kept = detections.get(
                sequence,
                frames,
                settings.person_iou,
                settings.person_confidence,
                settings.person_min_height_fraction,
            )
            tracker = build_tracker(settings, frame_rate=sequence.fps, embedder=embedder)
            tracked = track_sequence(kept, tracker, sequence.fps, frames)
            row += [score_tracking(sequence, tracked).idf1, identity_ceiling(sequence, tracked).idf1]
        rows.append(row)
    header = ["changed from the default"] + [f"{n} {m}" for n in sequences for m in ("IDF1", "ceiling")]
    table(f"cam2 tracking parameters, one set for both sequences ({describe_machine()})", header, rows)
    both = [r for r in rows if all(float(v) >= 0.85 for v in r[1::2])]  # type: ignore[arg-type]
    print(f"\nsets with IDF1 >= 0.85 on every sequence: {len(both)} of {len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
