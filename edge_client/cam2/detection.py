"""Person detection: ultralytics YOLO in, ``sv.Detections`` out.

The ultralytics ``Results`` object never leaves this module; every later stage sees one
``sv.Detections`` with ``class_id == 0`` (person) only.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol, cast

import numpy as np
import supervision as sv

from edge_client.cam2.errors import ModelLoadError

logger = logging.getLogger(__name__)

PERSON_CLASS_ID = 0


def select(detections: sv.Detections, mask: np.ndarray) -> sv.Detections:
    """The detections where ``mask`` is true (``sv.Detections.__getitem__`` with a precise type)."""
    return cast(sv.Detections, detections[mask])


class PersonDetector(Protocol):
    """Finds people in a BGR frame."""

    def detect(self, frame: np.ndarray) -> sv.Detections:
        """Return the people in ``frame`` (BGR ``uint8``) as detections with confidences."""
        ...


class YoloPersonDetector:
    """YOLO (any ultralytics-loadable weights: .pt, OpenVINO folder, ONNX) restricted to persons.

    Args:
        weights_path: ultralytics weights; ``yolov8n.pt`` is downloaded when absent.
        confidence: lowest score kept. ByteTrack feeds on low-score boxes in its second
            association stage, so a low value (0.1-0.3) helps tracking through occlusion.
        iou: NMS IoU threshold; lower merges people who stand close together.
        imgsz: inference size; larger finds distant people at a quadratic cost in time.
    """

    def __init__(
        self, weights_path: Path | str, confidence: float = 0.25, iou: float = 0.7, imgsz: int = 640
    ) -> None:
        # A classroom PC must never pip-install at run time (ultralytics does by default when
        # an optional package is missing); dependencies come from the ``edge`` extra.
        os.environ.setdefault("YOLO_AUTOINSTALL", "false")
        from ultralytics import YOLO  # heavy import: only where a detector is built

        weights = Path(weights_path)
        if weights.suffix != ".pt" and not weights.exists():
            raise ModelLoadError(f"person detector weights not found: {weights}")
        try:
            self._model = YOLO(str(weights), task="detect")
        except (OSError, RuntimeError, ValueError) as e:
            raise ModelLoadError(f"cannot load person detector {weights}: {e}") from e
        self.weights_path = weights
        self.confidence = confidence
        self.iou = iou
        self.imgsz = imgsz
        logger.info("person detector loaded: %s (imgsz=%d, conf=%.2f)", weights, imgsz, confidence)

    def detect(self, frame: np.ndarray) -> sv.Detections:
        """Return the people in ``frame`` as ``sv.Detections`` (xyxy, confidence, class_id=0)."""
        results = self._model.predict(
            frame,
            classes=[PERSON_CLASS_ID],
            conf=self.confidence,
            iou=self.iou,
            imgsz=self.imgsz,
            verbose=False,
        )
        detections = sv.Detections.from_ultralytics(next(iter(results)))
        return select(detections, np.asarray(detections.class_id) == PERSON_CLASS_ID)
