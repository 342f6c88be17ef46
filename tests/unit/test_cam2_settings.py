"""cam2 settings: bounds, door polygon and window consistency are checked at start-up."""

from __future__ import annotations

from typing import Any

import pytest

from edge_client.cam2.settings import Cam2Settings
from edge_client.settings import EdgeConfigurationError, load_edge_settings

REQUIRED = {"room_id": "R101", "bucket_name": "classsight-test"}


def test_defaults_are_valid_and_every_field_is_described() -> None:
    settings = load_edge_settings(Cam2Settings, **REQUIRED)
    assert settings.camera_id == "cam2"
    assert all(field.description for field in Cam2Settings.model_fields.values())


def test_door_zone_from_environment_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLASSSIGHT_DOOR_ZONE", "[[680,260],[768,260],[768,440]]")
    settings = load_edge_settings(Cam2Settings, **REQUIRED)
    assert settings.door_zone == [(680, 260), (768, 260), (768, 440)]


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"person_confidence": 1.5}, "PERSON_CONFIDENCE"),
        ({"person_imgsz": 650}, "PERSON_IMGSZ"),  # not a multiple of 32
        ({"reid_similarity_threshold": -0.1}, "REID_SIMILARITY_THRESHOLD"),
        ({"door_zone": [(0, 0), (1, 1)]}, "DOOR_ZONE"),
        ({"handoff_settle_s": 20.0, "handoff_wait_s": 10.0}, "handoff_settle_s"),
        (
            {"handoff_queue_url": "http://q", "sqs_visibility_timeout_s": 5, "handoff_wait_s": 10.0},
            "sqs_visibility_timeout_s",
        ),
    ],
)
def test_out_of_bounds_settings_stop_start_up(overrides: dict[str, Any], named: str) -> None:
    with pytest.raises(EdgeConfigurationError, match=named):
        load_edge_settings(Cam2Settings, **REQUIRED, **overrides)
