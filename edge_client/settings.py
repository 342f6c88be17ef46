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
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from contracts.ids import CameraId, RoomId

ENV_PREFIX = "CLASSSIGHT_"
CONFIG_FILE_ENV = f"{ENV_PREFIX}EDGE_CONFIG"
"""Environment variable naming the YAML settings file when the CLI gets no ``--config``."""

# Weights live beside the checkout for tests and local runs; a deployment sets its own path.
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "models"


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
    room_id: RoomId = Field(
        ...,
        description="Room this camera watches; part of every object key (letters, digits, '_', '-').",
    )
    camera_id: CameraId = Field(
        ..., description="This camera's id within the room, sent as object metadata (e.g. door-1)."
    )

    @field_validator("aws_endpoint_url")
    @classmethod
    def _endpoint_is_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be empty (real AWS) or an http(s) URL")
        return value.rstrip("/")

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


class SourceSettings(BaseModel):
    """Where a camera's frames come from: the settings cam1 and cam2 share."""

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
            "are dropped, which keeps latency flat on a slow PC; cam2's tracker then sees larger "
            "jumps between frames). Empty: the source's own rate."
        ),
    )
    realtime: bool = Field(
        True,
        description="Pace file and folder replays to the wall clock like a camera (off: full speed).",
    )
    drop_late_frames: bool = Field(
        False,
        description=(
            "Real-time replays skip the frames the loop had no time for, as a live camera does (newest "
            "frame wins; counted in the run summary). Off: a slow loop falls behind the wall clock but "
            "sees every frame. Live sources always drop."
        ),
    )


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
        cls: the settings class (``Cam1Settings``, ``Cam2Settings``: subclasses of ``EdgeSettings``).
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
