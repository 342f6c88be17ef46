"""Settings of the doorway camera (cam1), validated once at start-up.

Values come from code/CLI flags, the environment (prefix ``CLASSSIGHT_``), a ``.env`` file or a
YAML file (see :mod:`edge_client.settings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from edge_client.settings import DEFAULT_MODELS_DIR, EdgeSettings, SourceSettings
from vision.liveness import LivenessSettings


class Cam1Settings(SourceSettings, EdgeSettings, LivenessSettings):
    """The doorway camera: detector, stable-face gate, liveness, crop/JPEG, outbox and operator view.

    The ``liveness_*`` settings (``vision.liveness.LivenessSettings``) judge the stable window
    before upload; their report travels with the capture.
    """

    # --- detector -----------------------------------------------------------------------------
    face_detector: Literal["yunet", "haar"] = Field(
        "yunet",
        description=(
            "yunet: cv2.FaceDetectorYN (any OpenCV >= 4.8). haar: cv2.CascadeClassifier, only on "
            "OpenCV 4.x (OpenCV 5 removed it) and with haar_cascade_path set."
        ),
    )
    face_detector_path: Path = Field(
        DEFAULT_MODELS_DIR / "face" / "face_detection_yunet.onnx",
        description="YuNet ONNX weights.",
    )
    haar_cascade_path: Path | None = Field(
        None,
        description="Haar cascade XML (e.g. haarcascade_frontalface_default.xml) for face_detector=haar.",
    )
    face_detector_score: float = Field(
        0.7,
        ge=0.1,
        le=0.99,
        description="Detector confidence. Lower finds faces in worse light but admits false ones.",
    )
    detect_max_side_px: int = Field(
        640,
        ge=160,
        le=4096,
        description=(
            "Frames larger than this (longer side) are downscaled for detection only; crops come from "
            "the full frame. Lower is faster but misses small faces."
        ),
    )

    # --- stable-face gate ---------------------------------------------------------------------
    stable_s: float = Field(
        2.0,
        ge=0.2,
        le=30.0,
        description="How long a face must stay present and still before it is captured.",
    )
    min_iou: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="IoU between consecutive face boxes that counts as still. Higher demands a stiller pose.",
    )
    max_centre_shift: float = Field(
        0.25,
        ge=0.0,
        le=2.0,
        description=(
            "Largest centre movement between consecutive boxes, as a share of the face width, that "
            "counts as still. Lower demands a stiller pose; too low never captures a living person."
        ),
    )
    new_person_iou: float = Field(
        0.4,
        ge=0.0,
        le=1.0,
        description=(
            "Below this IoU with the previous box the followed face is taken to be a different person "
            "(the stability window and cooldown restart)."
        ),
    )
    lost_grace_s: float = Field(
        0.3,
        ge=0.0,
        le=5.0,
        description="A face missing up to this long (detector blink) does not break the stability window.",
    )
    forget_after_s: float = Field(
        1.0,
        ge=0.0,
        le=60.0,
        description=(
            "A face missing for longer is forgotten: the next face is a new person and may be captured "
            "at once. Longer avoids re-capturing someone who looks away; shorter catches quick queues."
        ),
    )
    cooldown_s: float = Field(
        30.0,
        ge=0.0,
        le=3600.0,
        description="After a capture the same followed face is not captured again for this long.",
    )
    min_face_px: int = Field(
        64,
        ge=16,
        le=2048,
        description="Smallest face (shorter box side, full-frame pixels) worth capturing.",
    )
    min_sharpness: float = Field(
        20.0,
        ge=0.0,
        le=10_000.0,
        description=(
            "Minimum Laplacian variance of the face (grey, scaled to 112 px wide). Higher rejects "
            "motion blur and out-of-focus faces; too high never captures in dim light."
        ),
    )

    # --- door liveness (the liveness_* thresholds come from LivenessSettings) -------------------
    liveness_window_max_frames: int = Field(
        20,
        ge=2,
        le=60,
        description=(
            "Frames of the stable window kept for the liveness check, evenly spread over stable_s. "
            "Each is one full frame of memory (about 1 MB at 640x480); more gives planar motion more "
            "to fit. 20 is 10 per second over a 2 s window, as the benchmark judged it."
        ),
    )
    liveness_device_weights: Path | None = Field(
        None,
        description=(
            "COCO YOLO weights (the room camera's) to look for a phone, laptop or TV around the face "
            "on liveness_device_frames frames of the window. Unset: the device source is inconclusive "
            "(it never blocks anyone) and cam1 needs no ultralytics."
        ),
    )
    liveness_device_frames: int = Field(
        3,
        ge=1,
        le=10,
        description="Window frames the device detector runs on (about 100 ms each on a 2-core CPU).",
    )

    # --- crop and upload ----------------------------------------------------------------------
    crop_margin: float = Field(
        0.35,
        ge=0.0,
        le=2.0,
        description="Margin added on each side of the face box, as a share of its size, before cropping.",
    )
    crop_max_side_px: int = Field(
        400,
        ge=64,
        le=4096,
        description="Crops larger than this (longer side) are downscaled before encoding.",
    )
    jpeg_quality: int = Field(
        90, ge=40, le=100, description="JPEG quality of the uploaded crop. Higher is sharper and larger."
    )
    max_jpeg_bytes: int = Field(
        300_000,
        ge=10_000,
        le=5_000_000,
        description=(
            "Largest upload; the quality is stepped down until the crop fits. Keep below the "
            "function's max_image_bytes."
        ),
    )
    send_appearance: bool = Field(
        True,
        description=(
            "Send the clothing colour below the face with each capture, so the room camera can "
            "tell apart people who enter within a second of each other. Costs under a "
            "millisecond and 96 bytes of metadata; it is a colour histogram, not an image."
        ),
    )
    upload_timeout_s: float = Field(
        10.0, ge=0.5, le=120.0, description="Connect/read timeout of one upload attempt."
    )

    # --- outbox -------------------------------------------------------------------------------
    outbox_path: Path = Field(
        Path("var/cam1_outbox.sqlite3"),
        description="SQLite file holding captures until they are uploaded; survives restarts.",
    )
    outbox_max_items: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="Most captures waiting to upload; beyond it the oldest are dropped (and counted).",
    )
    retry_initial_s: float = Field(
        1.0, ge=0.01, le=600.0, description="Wait after the first failed upload; doubles per failure."
    )
    retry_max_s: float = Field(
        60.0,
        ge=0.01,
        le=3600.0,
        description="Cap on the wait between upload attempts. Lower recovers faster after an outage.",
    )

    # --- operator view ------------------------------------------------------------------------
    preview: Literal["none", "web", "window"] = Field(
        "none",
        description=(
            "none: headless (services). web: annotated MJPEG page on preview_host:preview_port. "
            "window: OpenCV window (needs a display)."
        ),
    )
    preview_host: str = Field(
        "127.0.0.1", description="Address the web preview listens on; keep it local (faces are on it)."
    )
    preview_port: int = Field(8081, ge=1, le=65535, description="Port of the web preview.")
    preview_fps: float = Field(5.0, gt=0, le=30, description="Most preview frames per second.")

    @model_validator(mode="after")
    def _coherent(self) -> Cam1Settings:
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s must be >= retry_initial_s")
        if self.forget_after_s < self.lost_grace_s:
            raise ValueError("forget_after_s must be >= lost_grace_s")
        if self.new_person_iou > self.min_iou:
            raise ValueError("new_person_iou must be <= min_iou")
        if self.face_detector == "haar" and self.haar_cascade_path is None:
            raise ValueError("face_detector=haar needs haar_cascade_path")
        return self
