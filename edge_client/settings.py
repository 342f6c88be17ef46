"""Settings of the edge clients, validated at start-up.

Sources, highest priority first: values passed in code (the CLI's flags), environment variables
with the prefix ``CLASSSIGHT_`` (e.g. ``CLASSSIGHT_ROOM_ID``, ``CLASSSIGHT_STABLE_S``), a ``.env``
file in the working directory, an optional YAML file of ``field: value`` pairs (flat, field names
as below), then the defaults. Every threshold has bounds and a description; an unknown key in the
YAML file or an out-of-range value stops the client with an ``EdgeConfigurationError`` that names
the offending setting.

This module imports nothing from ``cloud_functions``: the edge installs without the cloud extras.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

ENV_PREFIX = "CLASSSIGHT_"
CONFIG_FILE_ENV = f"{ENV_PREFIX}EDGE_CONFIG"
"""Environment variable naming the YAML settings file when the CLI gets no ``--config``."""

# Weights live beside the checkout for tests and local runs; a deployment sets its own path.
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "models"

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class EdgeConfigurationError(Exception):
    """Edge settings are missing or invalid; the client cannot start."""


class EdgeSettings(BaseSettings):
    """What every edge client needs: where to upload and which room/camera it is."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    aws_endpoint_url: str = Field(
        "",
        description="Endpoint of an AWS-compatible service (local stack). Empty means real AWS.",
    )
    aws_region: str = Field("us-east-1", description="Region for every AWS client.")
    bucket_name: str = Field(..., min_length=3, max_length=63, description="Bucket that receives captures.")
    room_id: str = Field(
        ...,
        description="Room this camera watches; part of every object key (letters, digits, '_', '-', '.').",
    )
    camera_id: str = Field(
        ..., description="This camera's id within the room, sent as object metadata (e.g. door-1)."
    )

    @field_validator("aws_endpoint_url")
    @classmethod
    def _endpoint_is_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be empty (real AWS) or an http(s) URL")
        return value.rstrip("/")

    @field_validator("room_id", "camera_id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        if not _ID_PATTERN.match(value):
            raise ValueError("must be 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Code/CLI values, then environment, then ``.env``, then the YAML file, then defaults."""
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            YamlConfigSettingsSource(settings_cls),
            file_secret_settings,
        )


class Cam1Settings(EdgeSettings):
    """The doorway camera: detector, stable-face gate, crop/JPEG, outbox and operator view."""

    # --- source -------------------------------------------------------------------------------
    source: str = Field(
        "0",
        description="Camera index (0), stream URL (rtsp://, http://), video file or folder of images.",
    )
    source_fps: float | None = Field(
        None,
        gt=0,
        le=120,
        description=(
            "Folder replay rate; for live sources the most frames per second processed (extra frames "
            "are dropped, which keeps latency flat on a slow PC). Empty: the source's own rate."
        ),
    )
    realtime: bool = Field(
        True,
        description="Pace file and folder replays to the wall clock like a camera (off: full speed).",
    )

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


S = TypeVar("S", bound=EdgeSettings)


def _read_yaml(path: Path, cls: type[EdgeSettings]) -> None:
    """Fail fast on an unreadable file or unknown keys (a typo would otherwise be ignored)."""
    if not path.is_file():
        raise EdgeConfigurationError(f"settings file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise EdgeConfigurationError(f"settings file {path} is not readable YAML: {e}") from e
    if data is None:
        return
    if not isinstance(data, dict):
        raise EdgeConfigurationError(f"settings file {path} must hold a mapping of setting: value")
    unknown = sorted(set(map(str, data)) - set(cls.model_fields))
    if unknown:
        raise EdgeConfigurationError(f"settings file {path} has unknown settings: {', '.join(unknown)}")


def load_edge_settings(cls: type[S], yaml_file: Path | None = None, /, **overrides: Any) -> S:
    """Build ``cls`` from overrides, environment, ``.env`` and an optional YAML file.

    Args:
        cls: the settings class (``Cam1Settings``, or another camera's subclass of ``EdgeSettings``).
        yaml_file: YAML file of ``setting: value`` pairs; defaults to ``$CLASSSIGHT_EDGE_CONFIG``.
        overrides: values that win over every other source (``None`` values are ignored, so CLI
            flags that were not given fall through).

    Raises:
        EdgeConfigurationError: a value is missing, out of bounds or unknown; the message names the
            environment variable of each offending setting.
    """
    if yaml_file is None and os.environ.get(CONFIG_FILE_ENV):
        yaml_file = Path(os.environ[CONFIG_FILE_ENV])
    target: type[S] = cls
    if yaml_file is not None:
        _read_yaml(yaml_file, cls)
        config = SettingsConfigDict(**{**cls.model_config, "yaml_file": yaml_file})
        target = cast(
            type[S],
            type(
                cls.__name__,
                (cls,),
                {"model_config": config, "__doc__": cls.__doc__, "__module__": cls.__module__},
            ),
        )
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return target(**given)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            field = ".".join(str(part) for part in err["loc"])
            label = f"{ENV_PREFIX}{field.upper()}" if field else "settings"
            problems.append(f"{label}: {err['msg']}")
        source = f" (YAML: {yaml_file})" if yaml_file else ""
        raise EdgeConfigurationError(f"{cls.__name__} is not valid{source}: " + "; ".join(problems)) from None
