"""boto3 clients from settings: endpoint, region, addressing, reuse. No network is touched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloud_functions.core.aws import aws_client, clear_clients
from cloud_functions.core.settings import AwsSettings


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_clients()
    yield
    clear_clients()


@pytest.mark.parametrize(
    ("endpoint_url", "region", "expected_endpoint"),
    [
        ("", "eu-west-1", "https://sqs.eu-west-1.amazonaws.com"),
        ("http://127.0.0.1:4566", "us-east-1", "http://127.0.0.1:4566"),
    ],
)
def test_client_uses_the_settings_endpoint_and_region(
    endpoint_url: str, region: str, expected_endpoint: str
) -> None:
    # GIVEN settings with or without a local endpoint
    settings = AwsSettings(aws_endpoint_url=endpoint_url, aws_region=region)
    # WHEN a client is built
    client = aws_client("sqs", settings)
    # THEN it talks to that endpoint in that region
    assert client.meta.endpoint_url == expected_endpoint
    assert client.meta.region_name == region


def test_s3_on_a_local_endpoint_is_path_style() -> None:
    client = aws_client("s3", AwsSettings(aws_endpoint_url="http://127.0.0.1:4566"))
    assert client.meta.config.s3 == {"addressing_style": "path"}


def test_clients_are_reused_per_service_endpoint_and_region() -> None:
    local = AwsSettings(aws_endpoint_url="http://127.0.0.1:4566")
    assert aws_client("sns", local) is aws_client(
        "sns", AwsSettings(aws_endpoint_url="http://127.0.0.1:4566/")
    )
    assert aws_client("sns", local) is not aws_client("sqs", local)
    assert aws_client("sns", local) is not aws_client(
        "sns", AwsSettings(aws_endpoint_url="http://127.0.0.1:4567")
    )
