"""Signing people in and out, with the rate limit on failed sign-ins.

A sign-in first asks the limits (per username and per client address) and refuses with 429 while
either is exhausted; then the User Pool checks the password. A refusal is counted against both,
in its own transaction (the request itself fails, and its transaction rolls back). Unknown names
and wrong passwords take the same path and get the same answer, and count alike, so neither the
answer nor the limit tells whether a name exists.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection, Engine

from cloud_functions.api.accounts import CognitoAccounts, SessionTokens, SignInRefusedError
from cloud_functions.api.auth import Principal
from cloud_functions.api.crud import audit
from cloud_functions.api.errors import AuthenticationError, TooManyAttemptsError
from cloud_functions.api.people import PeopleTokenVerifier, PersonToken
from cloud_functions.api.schemas import SessionPublic
from cloud_functions.core.db import sign_in
from cloud_functions.core.db.engine import transaction
from cloud_functions.core.settings import ApiSettings

logger = logging.getLogger(__name__)


def _limits(settings: ApiSettings, username: str, client_address: str) -> list[sign_in.Limit]:
    window = timedelta(seconds=settings.sign_in_failure_window_s)
    return [
        sign_in.Limit(
            sign_in.throttle_key("user", username), settings.sign_in_max_failures_per_username, window
        ),
        sign_in.Limit(
            sign_in.throttle_key("addr", client_address), settings.sign_in_max_failures_per_address, window
        ),
    ]


def _public(tokens: SessionTokens, person: PersonToken) -> SessionPublic:
    return SessionPublic(
        access_token=tokens.access_token,
        expires_at=person.expires_at,
        refresh_token=tokens.refresh_token,
        name=person.principal.name,
        role=person.principal.role,
    )


def _log_ref(key: str) -> str:
    # A short digest names the attempt in the log without the name typed (it may be a password).
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def sign_in_person(
    engine: Engine,
    accounts: CognitoAccounts,
    verifier: PeopleTokenVerifier,
    settings: ApiSettings,
    *,
    username: str,
    password: str,
    client_address: str,
    now: datetime,
) -> SessionPublic:
    """A new session for ``username``; 401 for any wrong name or password, 429 while limited."""
    limits = _limits(settings, username, client_address)
    with transaction(engine) as connection:
        wait = sign_in.retry_after(connection, limits, now)
        ended = sign_in.signed_out_at(connection, username)
    if wait is not None:
        logger.info("sign-in refused by the rate limit (%s)", _log_ref(limits[0].key))
        retry_after_s = max(1, math.ceil(wait.total_seconds()))
        raise TooManyAttemptsError(
            "too many failed sign-ins; wait before trying again", retry_after_s=retry_after_s
        )
    if ended is not None and ended.replace(microsecond=0) >= now.replace(microsecond=0):
        # Signed out this very second: a session begun now would count as ended with it.
        time.sleep(1.0 - now.microsecond / 1_000_000)
    try:
        tokens = accounts.sign_in(username, password)
    except SignInRefusedError:
        with transaction(engine) as connection:
            sign_in.record_failure(connection, [limit.key for limit in limits], now, limits[0].window)
        logger.info("sign-in refused (%s)", _log_ref(limits[0].key))
        raise
    person = verifier.verify(tokens.access_token)
    with transaction(engine) as connection:
        sign_in.clear_failures(connection, limits[0].key)
        audit.record(
            connection, actor=person.principal.name, action="sign_in", entity="account", entity_id=username
        )
    logger.info("signed in: %s (%s)", person.principal.name, person.principal.role)
    return _public(tokens, person)


def refresh_session(
    connection: Connection, accounts: CognitoAccounts, verifier: PeopleTokenVerifier, refresh_token: str
) -> SessionPublic:
    """A new access token for a session that has not been signed out."""
    tokens = accounts.refresh(refresh_token)
    person = verifier.verify(tokens.access_token)
    ensure_not_signed_out(connection, person)
    return _public(tokens, person)


def ensure_not_signed_out(connection: Connection, person: PersonToken) -> Principal:
    """``person``'s principal, or 401 if they signed out (or were disabled) after signing in."""
    ended = sign_in.signed_out_at(connection, person.principal.name)
    # Token times have whole seconds, so a session begun in the second of a sign-out ends with it
    # (sign_in_person waits that second out before starting a new one).
    if ended is not None and person.authenticated_at <= ended.replace(microsecond=0):
        raise AuthenticationError("the session has ended; sign in again")
    return person.principal


def end_sessions(connection: Connection, username: str, now: datetime) -> None:
    """Refuse every token of ``username`` issued so far, however long it still has to run."""
    sign_in.record_sign_out(connection, username, now)
