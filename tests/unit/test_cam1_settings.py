"""Edge settings: sources and their priority, bounds, YAML strictness."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_client.cam1.settings import Cam1Settings
from edge_client.settings import EdgeConfigurationError, load_edge_settings

REQUIRED = {"bucket_name": "cam1-bucket", "room_id": "R101", "camera_id": "door-1"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CLASSSIGHT_ variables or .env from the machine leak into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("CLASSSIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_point_at_the_shared_yunet_weights() -> None:
    settings = load_edge_settings(Cam1Settings, **REQUIRED)
    assert settings.face_detector == "yunet" and settings.face_detector_path.is_file()
    assert settings.stable_s == 2.0 and settings.preview == "none"


def test_priority_is_override_then_env_then_dotenv_then_yaml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    yaml_file = tmp_path / "cam1.yaml"
    yaml_file.write_text("stable_s: 1.0\ncooldown_s: 5\nmin_face_px: 50\nmin_sharpness: 7\n")
    (tmp_path / ".env").write_text(
        "CLASSSIGHT_COOLDOWN_S=6\nCLASSSIGHT_MIN_FACE_PX=51\nCLASSSIGHT_MIN_SHARPNESS=8\n"
    )
    monkeypatch.setenv("CLASSSIGHT_MIN_FACE_PX", "52")
    monkeypatch.setenv("CLASSSIGHT_MIN_SHARPNESS", "9")
    settings = load_edge_settings(Cam1Settings, yaml_file, min_sharpness=10.0, **REQUIRED)
    assert (settings.stable_s, settings.cooldown_s, settings.min_face_px, settings.min_sharpness) == (
        1.0,
        6.0,
        52,
        10.0,
    )


def test_yaml_file_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    yaml_file = tmp_path / "edge.yaml"
    yaml_file.write_text("room_id: R303\nbucket_name: from-yaml\ncamera_id: door-3\n")
    monkeypatch.setenv("CLASSSIGHT_EDGE_CONFIG", str(yaml_file))
    settings = load_edge_settings(Cam1Settings)
    assert (settings.room_id, settings.bucket_name, settings.camera_id) == ("R303", "from-yaml", "door-3")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stable_s": 0.0}, "CLASSSIGHT_STABLE_S"),
        ({"min_iou": 1.5}, "CLASSSIGHT_MIN_IOU"),
        ({"jpeg_quality": 101}, "CLASSSIGHT_JPEG_QUALITY"),
        ({"room_id": "R 101/../x"}, "CLASSSIGHT_ROOM_ID"),
        ({"aws_endpoint_url": "localhost:4566"}, "CLASSSIGHT_AWS_ENDPOINT_URL"),
        ({"retry_initial_s": 5.0, "retry_max_s": 1.0}, "retry_max_s must be >= retry_initial_s"),
        ({"face_detector": "haar"}, "face_detector=haar needs haar_cascade_path"),
        ({"new_person_iou": 0.9, "min_iou": 0.5}, "new_person_iou must be <= min_iou"),
    ],
)
def test_invalid_values_name_the_setting(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(EdgeConfigurationError, match=message):
        load_edge_settings(Cam1Settings, **{**REQUIRED, **overrides})


def test_missing_required_settings_are_all_named() -> None:
    with pytest.raises(EdgeConfigurationError) as info:
        load_edge_settings(Cam1Settings)
    for variable in ("CLASSSIGHT_BUCKET_NAME", "CLASSSIGHT_ROOM_ID", "CLASSSIGHT_CAMERA_ID"):
        assert variable in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("stable_seconds: 2\n", "unknown settings: stable_seconds"),
        ("- a list\n", "must hold a mapping"),
        ("room_id: [unclosed\n", "not readable YAML"),
    ],
)
def test_bad_yaml_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    yaml_file = tmp_path / "cam1.yaml"
    yaml_file.write_text(content)
    with pytest.raises(EdgeConfigurationError, match=message):
        load_edge_settings(Cam1Settings, yaml_file, **REQUIRED)


def test_a_missing_yaml_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EdgeConfigurationError, match="does not exist"):
        load_edge_settings(Cam1Settings, tmp_path / "nope.yaml", **REQUIRED)


def test_every_setting_has_a_description() -> None:
    assert all(field.description for field in Cam1Settings.model_fields.values())
