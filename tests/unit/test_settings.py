"""Settings fail fast, name what is missing, and bound every threshold."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud_functions.core.errors import ConfigurationError
from cloud_functions.core.settings import FunctionSettings, load_settings

REQUIRED = {
    "CLASSSIGHT_DATABASE_URL": "sqlite:///x.db",
    "CLASSSIGHT_BUCKET_NAME": "classsight-captures",
    "CLASSSIGHT_HANDOFF_TOPIC_ARN": "arn:aws:sns:us-east-1:000000000000:classsight-handoffs",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env file
    for name in [*REQUIRED, "CLASSSIGHT_AWS_ENDPOINT_URL", "CLASSSIGHT_MATCH_THRESHOLD"]:
        monkeypatch.delenv(name, raising=False)


def test_complete_environment_gives_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(FunctionSettings)
    assert settings.bucket_name == "classsight-captures"
    assert settings.aws_endpoint_url == ""  # empty means real AWS


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_missing_required_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    for name, value in REQUIRED.items():
        if name != missing:
            monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=missing):
        load_settings(FunctionSettings)


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("CLASSSIGHT_MATCH_THRESHOLD", "1.5", "less than or equal to 1"),
        ("CLASSSIGHT_AWS_ENDPOINT_URL", "localhost:4566", "http"),
        ("CLASSSIGHT_DATABASE_URL", "postgresql://x/y", "only sqlite and mysql"),
    ],
)
def test_out_of_bounds_values_are_rejected(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, complaint: str
) -> None:
    for name, default in REQUIRED.items():
        monkeypatch.setenv(name, default)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=complaint) as excinfo:
        load_settings(FunctionSettings)
    assert variable in str(excinfo.value)
