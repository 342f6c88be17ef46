"""The edge clients' one way to reach AWS (or the local stack): a boto3 client per service.

cam1 and cam2 upload through S3 and cam2 reads its room's handoff queue through SQS; both
clients come from here, so one process agrees on region, endpoint, timeouts and credentials.
Credentials come from the SDK's usual chain (environment, profile, instance role). A client is
refused at start when there are none: every request would fail forever otherwise. For a local
endpoint any value will do (``AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x``).
"""

from __future__ import annotations

from typing import Any, Literal

import boto3
from botocore.config import Config

from edge_client.settings import EdgeConfigurationError


class AwsCredentialsError(EdgeConfigurationError):
    """No AWS credentials in the SDK's chain: the client cannot start."""


def edge_aws_client(
    service: Literal["s3", "sqs"],
    *,
    endpoint_url: str = "",
    region: str = "us-east-1",
    timeout_s: float = 10.0,
    max_attempts: int = 3,
) -> Any:
    """A boto3 client for ``service`` on AWS, or on ``endpoint_url`` when one is given.

    Args:
        timeout_s: connect and read timeout; an SQS long poll needs more than its wait.
        max_attempts: the SDK's own attempts per request (1 where the caller owns retrying).
    """
    session = boto3.session.Session(region_name=region)
    if session.get_credentials() is None:
        raise AwsCredentialsError(
            "no AWS credentials found (environment, profile or instance role); for a local "
            "endpoint set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to any value"
        )
    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        # Local endpoints (localhost, 127.0.0.1) do not resolve bucket subdomains.
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    return session.client(service, endpoint_url=endpoint_url or None, config=config)
