"""MiniFASNet passive anti-spoofing through onnxruntime: face box in, probability of a real face out.

The crop geometry follows Silent-Face-Anti-Spoofing's patch generator exactly, because the
released weights (Apache-2.0, github.com/minivision-ai/Silent-Face-Anti-Spoofing) were trained
on it: the face box ``(x, y, w, h)`` is grown about its centre by the model's ``crop_scale``
(capped so it fits the frame), slid back inside the frame where it overhangs, cut out inclusive
of its last row and column, and resized (bilinear) to ``input_px`` square. The network reads the
BGR crop as float 0-255 with no normalisation; class 1 of its three outputs is "real". The two
models' softmax outputs are averaged, as upstream does.

ONNX files come from ``python -m infra.models.convert_antispoof``; each carries its
``crop_scale`` and ``input_px`` in its metadata, so the geometry cannot drift from the weights.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.liveness.types import BoxXYXY, LivenessError

REAL_CLASS = 1


def silent_face_box(frame_hw: tuple[int, int], xyxy: BoxXYXY, crop_scale: float) -> tuple[int, int, int, int]:
    """The inclusive pixel box ``(x1, y1, x2, y2)`` of the crop for ``xyxy`` at ``crop_scale``.

    Detector boxes become upstream's integer ``(x, y, w, h)`` (``w = right - left + 1``) first.
    """
    src_h, src_w = frame_hw
    x, y = int(xyxy[0]), int(xyxy[1])
    box_w, box_h = int(xyxy[2] - xyxy[0] + 1), int(xyxy[3] - xyxy[1] + 1)
    if box_w <= 0 or box_h <= 0:
        raise LivenessError(f"empty face box {tuple(xyxy)}")
    scale = min((src_h - 1) / box_h, (src_w - 1) / box_w, crop_scale)
    new_w, new_h = box_w * scale, box_h * scale
    centre_x, centre_y = x + box_w / 2, y + box_h / 2
    left, top = centre_x - new_w / 2, centre_y - new_h / 2
    right, bottom = centre_x + new_w / 2, centre_y + new_h / 2
    # Slide (never shrink) the box back inside the frame.
    if left < 0:
        right -= left
        left = 0
    if top < 0:
        bottom -= top
        top = 0
    if right > src_w - 1:
        left -= right - src_w + 1
        right = src_w - 1
    if bottom > src_h - 1:
        top -= bottom - src_h + 1
        bottom = src_h - 1
    return int(left), int(top), int(right), int(bottom)


def silent_face_crop(
    image_bgr: NDArray[np.uint8], xyxy: BoxXYXY, crop_scale: float, input_px: int
) -> NDArray[np.uint8]:
    """The ``input_px`` square BGR crop MiniFASNet expects for one face."""
    x1, y1, x2, y2 = silent_face_box((image_bgr.shape[0], image_bgr.shape[1]), xyxy, crop_scale)
    patch = image_bgr[max(y1, 0) : y2 + 1, max(x1, 0) : x2 + 1]
    if patch.size == 0:
        raise LivenessError(f"face box {tuple(xyxy)} lies outside the {image_bgr.shape[:2]} image")
    return np.asarray(cv2.resize(patch, (input_px, input_px)), dtype=np.uint8)


@dataclass(frozen=True)
class _Model:
    name: str
    session: object
    crop_scale: float
    input_px: int


class MiniFASNetEnsemble:
    """The released MiniFASNet models run together; ``real_probability`` is their mean softmax.

    Args:
        model_paths: ONNX files made by ``infra.models.convert_antispoof``.
        intra_op_threads: onnxruntime threads per model; 1 keeps a 2-core edge PC responsive
            for the camera loop, more lowers latency on an idle machine.
    """

    def __init__(self, model_paths: Sequence[Path], *, intra_op_threads: int = 1) -> None:
        import onnxruntime as ort

        if not model_paths:
            raise LivenessError("no anti-spoofing models configured")
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        models = []
        for path in model_paths:
            if not Path(path).is_file():
                raise LivenessError(
                    f"anti-spoofing model not found at {path} "
                    "(convert the weights with: python -m infra.models.convert_antispoof)"
                )
            try:
                session = ort.InferenceSession(
                    str(path), sess_options=options, providers=["CPUExecutionProvider"]
                )
            except Exception as e:  # onnxruntime raises its own untyped errors
                raise LivenessError(f"cannot load anti-spoofing model {path}: {e}") from e
            meta = session.get_modelmeta().custom_metadata_map
            try:
                crop_scale, input_px = float(meta["crop_scale"]), int(meta["input_px"])
            except (KeyError, ValueError) as e:
                raise LivenessError(
                    f"{path} has no crop_scale/input_px metadata; re-run infra.models.convert_antispoof"
                ) from e
            models.append(_Model(Path(path).stem, session, crop_scale, input_px))
        self._models = models
        # onnxruntime sessions are thread-safe, but one lock keeps a 2-core box from
        # oversubscribing when cam1's loop and a benchmark call it at once.
        self._lock = threading.Lock()
        self.model_id = "+".join(m.name for m in models)

    @property
    def crop_scales(self) -> tuple[float, ...]:
        return tuple(m.crop_scale for m in self._models)

    def probabilities(
        self, images: Sequence[NDArray[np.uint8]], boxes: Sequence[BoxXYXY]
    ) -> NDArray[np.float32]:
        """Softmax over the three classes per (image, face box) pair, mean over the models: ``[N, 3]``."""
        if len(images) != len(boxes):
            raise LivenessError(f"{len(images)} images but {len(boxes)} face boxes")
        if not images:
            return np.zeros((0, 3), dtype=np.float32)
        total = np.zeros((len(images), 3), dtype=np.float64)
        with self._lock:
            for model in self._models:
                batch = np.stack(
                    [
                        silent_face_crop(image, box, model.crop_scale, model.input_px)
                        for image, box in zip(images, boxes, strict=True)
                    ]
                )
                blob = batch.transpose(0, 3, 1, 2).astype(np.float32)
                logits = model.session.run(None, {"input": blob})[0]  # type: ignore[attr-defined]
                shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
                total += shifted / shifted.sum(axis=1, keepdims=True)
        return (total / len(self._models)).astype(np.float32)

    def real_probability(
        self, images: Sequence[NDArray[np.uint8]], boxes: Sequence[BoxXYXY]
    ) -> NDArray[np.float32]:
        """``P(real)`` per (image, face box) pair, each the mean over the models, shape ``[N]``."""
        return self.probabilities(images, boxes)[:, REAL_CLASS]
