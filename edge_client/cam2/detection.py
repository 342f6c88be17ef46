"""Person and presentation-device detection: ultralytics YOLO in, project types out.

The ultralytics ``Results`` object never leaves this module; every later stage of cam2 sees one
``sv.Detections`` with ``class_id == 0`` (person) only. The same COCO model also finds the
devices a face can be shown on (cell phone, laptop, tv): :class:`YoloDeviceDetector` returns
them as ``vision.liveness.DeviceBox`` for the door's liveness check.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import supervision as sv

from edge_client.cam2.errors import ModelLoadError
from vision.liveness import DeviceBox

logger = logging.getLogger(__name__)

PERSON_CLASS_ID = 0
DEVICE_CLASS_IDS = {62: "tv", 63: "laptop", 67: "cell phone"}
"""COCO ids and names of the devices a face can be replayed on."""


def _load_yolo(weights_path: Path | str, what: str) -> Any:
    """An ultralytics YOLO model, or ``ModelLoadError`` naming ``what`` could not be loaded."""
    # A classroom PC must never pip-install at run time (ultralytics does by default when
    # an optional package is missing); dependencies come from the ``edge`` extra.
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    from ultralytics import YOLO  # heavy import: only where a detector is built

    weights = Path(weights_path)
    if weights.suffix != ".pt" and not weights.exists():
        raise ModelLoadError(f"{what} weights not found: {weights}")
    try:
        return YOLO(str(weights), task="detect")
    except (OSError, RuntimeError, ValueError) as e:
        raise ModelLoadError(f"cannot load {what} {weights}: {e}") from e


def fixed_input_size(weights_path: Path | str) -> int | None:
    """The input size an ultralytics export was fixed to (``metadata.yaml``), ``None`` if dynamic or unknown.

    ultralytics runs a fixed-size export at its own size whatever ``imgsz`` asks for, silently.
    """
    import yaml

    metadata = Path(weights_path) / "metadata.yaml"
    if not metadata.is_file():
        return None
    values = yaml.safe_load(metadata.read_text()) or {}
    if (values.get("args") or {}).get("dynamic"):
        return None
    size = values.get("imgsz")
    return int(max(size)) if isinstance(size, list) and size else None


def select(detections: sv.Detections, mask: np.ndarray) -> sv.Detections:
    """The detections where ``mask`` is true (``sv.Detections.__getitem__`` with a precise type)."""
    return cast(sv.Detections, detections[mask])


def drop_distant(
    detections: sv.Detections, frame_height_px: int, min_height_fraction: float
) -> sv.Detections:
    """The detections at least ``min_height_fraction`` of the frame height tall."""
    if min_height_fraction <= 0 or len(detections) == 0:
        return detections
    heights = detections.xyxy[:, 3] - detections.xyxy[:, 1]
    return select(detections, heights >= min_height_fraction * frame_height_px)


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
        min_height_fraction: boxes shorter than this share of the frame height are dropped:
            people that far away are not in the room and cannot be identified.
    """

    def __init__(
        self,
        weights_path: Path | str,
        confidence: float = 0.25,
        iou: float = 0.7,
        imgsz: int = 640,
        min_height_fraction: float = 0.0,
    ) -> None:
        self._model = _load_yolo(weights_path, "person detector")
        weights = Path(weights_path)
        self.weights_path = weights
        self.confidence = confidence
        self.iou = iou
        fixed = fixed_input_size(weights)
        if fixed is not None and fixed != imgsz:
            logger.warning("%s has a fixed %d input; person_imgsz=%d does not apply", weights, fixed, imgsz)
            imgsz = fixed
        self.imgsz = imgsz
        self.min_height_fraction = min_height_fraction
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
        people = select(detections, np.asarray(detections.class_id) == PERSON_CLASS_ID)
        return drop_distant(people, frame.shape[0], self.min_height_fraction)


class YoloDeviceDetector:
    """The room camera's COCO YOLO restricted to phones, laptops and TVs, for the door's liveness.

    Args:
        weights_path: ultralytics weights (the same file as the person detector's).
        confidence: lowest score kept; the liveness settings decide which scores count, so
            keep this at or below ``liveness_device_min_confidence``.
        imgsz: inference size; a phone held up at the door fills much of the frame, so 640
            is plenty.
    """

    def __init__(self, weights_path: Path | str, confidence: float = 0.1, imgsz: int = 640) -> None:
        self._model = _load_yolo(weights_path, "device detector")
        self.confidence = confidence
        self.imgsz = imgsz

    def detect(self, frame: np.ndarray) -> tuple[DeviceBox, ...]:
        """The phones, laptops and TVs in ``frame`` (BGR ``uint8``)."""
        results = self._model.predict(
            frame, classes=sorted(DEVICE_CLASS_IDS), conf=self.confidence, imgsz=self.imgsz, verbose=False
        )
        detections = sv.Detections.from_ultralytics(next(iter(results)))
        devices = []
        for xyxy, class_id, score in zip(
            detections.xyxy, np.asarray(detections.class_id), np.asarray(detections.confidence), strict=True
        ):
            if int(class_id) in DEVICE_CLASS_IDS:
                x1, y1, x2, y2 = (float(v) for v in xyxy)
                devices.append(DeviceBox((x1, y1, x2, y2), DEVICE_CLASS_IDS[int(class_id)], float(score)))
        return tuple(devices)
