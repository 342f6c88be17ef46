"""Typed dependencies of the routes: settings, a transaction per request, the bucket, the caller.

The caller is a person with an access token from the User Pool (``people.py``: signature,
issuer, client, expiry, group) that has not been signed out, or the holder of a machine token
(``auth.py``: a configured sha256 digest). A token with two dots is a JWT and is only ever
checked as one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Connection, Engine

from cloud_functions.api.accounts import CognitoAccounts, SignInNotConfiguredError
from cloud_functions.api.auth import Principal, authenticate, require_role
from cloud_functions.api.crud.sessions import ensure_not_signed_out
from cloud_functions.api.people import PeopleTokenVerifier, PersonToken, looks_like_jwt
from cloud_functions.api.photos import PhotoBucket
from cloud_functions.core.db.engine import transaction
from cloud_functions.core.room_queues import RoomQueues
from cloud_functions.core.settings import ApiSettings

_bearer = HTTPBearer(
    auto_error=False,
    description=(
        "A person's access token from POST /auth/sign-in, or a machine token (CLASSSIGHT_API_TOKENS)."
    ),
)


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


async def get_room_queues(request: Request) -> RoomQueues | None:
    """Creates rooms' handoff queues; None when this API has no handoff topic configured."""
    room_queues: RoomQueues | None = request.app.state.room_queues
    return room_queues


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
RoomQueuesDep = Annotated[RoomQueues | None, Depends(get_room_queues)]
# scope="function": the commit happens before the response is sent, so a failed commit is an
# error response and never a 200 for data that was not stored.
ConnectionDep = Annotated[Connection, Depends(get_connection, scope="function")]
PhotoBucketDep = Annotated[PhotoBucket, Depends(get_photo_bucket)]


async def get_accounts(request: Request) -> CognitoAccounts:
    """The User Pool's accounts; 503 when this API has no pool configured."""
    accounts: CognitoAccounts | None = request.app.state.accounts
    if accounts is None:
        raise SignInNotConfiguredError("people's sign-in is not configured on this API")
    return accounts


async def get_people_tokens(request: Request) -> PeopleTokenVerifier:
    """The verifier of people's access tokens; 503 when this API has no pool configured."""
    verifier: PeopleTokenVerifier | None = request.app.state.people_tokens
    if verifier is None:
        raise SignInNotConfiguredError("people's sign-in is not configured on this API")
    return verifier


AccountsDep = Annotated[CognitoAccounts, Depends(get_accounts)]
PeopleTokensDep = Annotated[PeopleTokenVerifier, Depends(get_people_tokens)]


def current_person_token(
    request: Request,
    connection: ConnectionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> PersonToken | None:
    """The verified person's token if the bearer token is a JWT, else None (a machine token)."""
    token = credentials.credentials if credentials else None
    verifier: PeopleTokenVerifier | None = request.app.state.people_tokens
    if not token or verifier is None or not looks_like_jwt(token):
        return None
    person = verifier.verify(token)
    ensure_not_signed_out(connection, person)
    return person


PersonTokenDep = Annotated[PersonToken | None, Depends(current_person_token)]


async def current_user(
    settings: SettingsDep,
    person: PersonTokenDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    """The caller: a signed-in person (access token), or the holder of a machine token."""
    if person is not None:
        return person.principal
    return authenticate(credentials.credentials if credentials else None, settings.api_tokens)


CurrentUser = Annotated[Principal, Depends(current_user)]


async def current_admin(user: CurrentUser) -> Principal:
    """The caller, who must be an admin."""
    return require_role(user, "admin")


AdminUser = Annotated[Principal, Depends(current_admin)]
