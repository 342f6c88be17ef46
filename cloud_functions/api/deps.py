"""Typed dependencies of the routes: settings, a transaction per request, the bucket, the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Connection, Engine

from cloud_functions.api.auth import Principal, authenticate, require_role
from cloud_functions.api.photos import PhotoBucket
from cloud_functions.core.db.engine import transaction
from cloud_functions.core.settings import ApiSettings

_bearer = HTTPBearer(auto_error=False, description="An API token; see CLASSSIGHT_API_TOKENS.")


# Dependencies that do no I/O are ``async def``: FastAPI runs them on the event loop instead of
# handing each to a worker thread, which costs a thread hop per dependency and per request.


async def get_settings(request: Request) -> ApiSettings:
    """The settings the app was created with."""
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    """The process-wide engine of the app's database."""
    engine: Engine = request.app.state.engine
    return engine


def get_connection(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Connection]:
    """One transaction per request: committed when the route returns, rolled back if it raises."""
    with transaction(engine) as connection:
        yield connection


async def get_photo_bucket(request: Request) -> PhotoBucket:
    """The enrollment photos of the bucket."""
    bucket: PhotoBucket = request.app.state.photo_bucket
    return bucket


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
# scope="function": the commit happens before the response is sent, so a failed commit is an
# error response and never a 200 for data that was not stored.
ConnectionDep = Annotated[Connection, Depends(get_connection, scope="function")]
PhotoBucketDep = Annotated[PhotoBucket, Depends(get_photo_bucket)]


async def current_user(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    """The caller named by the bearer token (admin or teacher)."""
    return authenticate(credentials.credentials if credentials else None, settings.api_tokens)


CurrentUser = Annotated[Principal, Depends(current_user)]


async def current_admin(user: CurrentUser) -> Principal:
    """The caller, who must be an admin."""
    return require_role(user, "admin")


AdminUser = Annotated[Principal, Depends(current_admin)]
