"""boto3 clients built from :class:`AwsSettings`, one per service, endpoint and region, per process.

An empty ``aws_endpoint_url`` means real AWS (credentials from the usual chain: the function's
role, a profile, environment variables). A set endpoint means an AWS-compatible emulator (the
local stack): S3 is addressed path-style, and when no credentials are configured at all,
placeholder credentials are used because emulators accept any.

Clients are cached at module level so a warm Lambda container reuses its connections; boto3
clients are thread-safe once created.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config

from cloud_functions.core.settings import AwsSettings

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

Service = Literal["s3", "sqs", "sns", "cognito-idp"]

LOCAL_PLACEHOLDER_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}

_clients: dict[tuple[str, str, str], Any] = {}
_lock = threading.Lock()


def _config(service: str, endpoint_url: str) -> Config:
    options: dict[str, Any] = {
        "retries": {"max_attempts": 3, "mode": "standard"},
        "connect_timeout": 5,
        "read_timeout": 30,
    }
    if service == "s3" and endpoint_url:
        # Emulators on 127.0.0.1 have no per-bucket host names.
        options["s3"] = {"addressing_style": "path"}
    return Config(**options)


@overload
def aws_client(service: Literal["s3"], settings: AwsSettings | None = None) -> S3Client: ...
@overload
def aws_client(service: Literal["sqs"], settings: AwsSettings | None = None) -> SQSClient: ...
@overload
def aws_client(service: Literal["sns"], settings: AwsSettings | None = None) -> SNSClient: ...
@overload
def aws_client(
    service: Literal["cognito-idp"], settings: AwsSettings | None = None
) -> CognitoIdentityProviderClient: ...
def aws_client(service: Service, settings: AwsSettings | None = None) -> Any:
    """The process-wide client for ``service`` at the settings' endpoint and region.

    ``settings`` defaults to :class:`AwsSettings` read from the environment.
    """
    settings = settings if settings is not None else AwsSettings()
    key = (service, settings.aws_endpoint_url, settings.aws_region)
    client = _clients.get(key)
    if client is not None:
        return client
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = _new_client(service, settings)
    return client


def _new_client(service: Service, settings: AwsSettings) -> Any:
    # A Session per client: boto3's default session is not safe to create from several threads.
    session = boto3.session.Session(region_name=settings.aws_region)
    kwargs: dict[str, Any] = {"config": _config(service, settings.aws_endpoint_url)}
    if settings.aws_endpoint_url:
        kwargs["endpoint_url"] = settings.aws_endpoint_url
        if session.get_credentials() is None:
            kwargs.update(LOCAL_PLACEHOLDER_CREDENTIALS)
    return session.client(service, **kwargs)


def clear_clients() -> None:
    """Forget cached clients (tests that switch endpoints within one process)."""
    with _lock:
        _clients.clear()
