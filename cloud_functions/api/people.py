"""People's sign-in tokens: Cognito access tokens, verified as the HTTP API's JWT authorizer does.

A teacher or admin signs in with a name and password (``routes/auth.py``) and receives the
User Pool's tokens. Every request then carries the *access* token as a bearer token; the API
accepts it only if

- it is an RS256 JWT signed by a key of the pool's JWKS (looked up by ``kid``; ``alg: none``, HMAC
  and every other algorithm are refused before any key is tried),
- ``iss`` is the pool, ``client_id`` is the portal's app client and ``token_use`` is ``access``
  (an ID token, or a token of another pool or client, is refused),
- ``exp`` lies in the future and ``iat`` not in the future (a small leeway for clock skew),
- its ``cognito:groups`` name ``admin`` or ``teacher``: that is the role, ``username`` the name.

The same code serves AWS and the local stack: the local endpoint (moto) implements the User Pool,
signs real RS256 tokens and publishes the pool's JWKS, only under its own URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import jwt

from cloud_functions.api.auth import MAX_TOKEN_CHARS, Principal, Role
from cloud_functions.api.errors import AuthenticationError
from cloud_functions.core.errors import TransientError

ALGORITHMS = ["RS256"]
# Seconds of clock difference tolerated between Cognito and this host.
LEEWAY_S = 30
# A group wins over a weaker one when a user is in both.
ROLE_BY_GROUP: dict[str, Role] = {"admin": "admin", "teacher": "teacher"}
INVALID = "missing or invalid bearer token"


class SigningKeys(Protocol):
    """Where a token's verification key comes from (the pool's JWKS, or a fixed set in tests)."""

    def key_for(self, token: str) -> Any:
        """The public key named by the token's ``kid``; raises ``jwt.PyJWTError`` if none."""


class JwksKeys:
    """The pool's published keys, fetched on first use and cached (``jwt.PyJWKClient``).

    Args:
        jwks_url: The pool's ``/.well-known/jwks.json``.
        cache_s: How long fetched keys are kept; an unknown ``kid`` refetches at once.
        timeout_s: How long one fetch may take before the request fails with 503.
    """

    def __init__(self, jwks_url: str, *, cache_s: int = 3_600, timeout_s: float = 5.0) -> None:
        self._client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=cache_s, timeout=timeout_s)

    def key_for(self, token: str) -> Any:
        try:
            return self._client.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as e:
            raise TransientError("the sign-in keys could not be fetched") from e


class StaticKeys:
    """A fixed JWKS document (``{"keys": [...]}``), for tests and offline checks."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = {key["kid"]: jwt.PyJWK(dict(key)).key for key in jwks["keys"]}

    def key_for(self, token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid")
        if kid not in self._keys:
            raise jwt.InvalidKeyError("no key with this kid")
        return self._keys[kid]


@dataclass(frozen=True)
class PersonToken:
    """What a verified access token says about the person holding it."""

    principal: Principal
    authenticated_at: datetime
    expires_at: datetime


class PeopleTokenVerifier:
    """Checks a User Pool access token and names the person holding it.

    Args:
        issuer: The pool's issuer URL (``https://cognito-idp.<region>.amazonaws.com/<pool id>``).
        client_id: The portal's app client id.
        keys: Where verification keys come from.
    """

    def __init__(self, *, issuer: str, client_id: str, keys: SigningKeys) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.keys = keys

    def verify(self, token: str) -> PersonToken:
        """The person of ``token``, or ``AuthenticationError`` if it fails any check."""
        if not token or len(token) > MAX_TOKEN_CHARS * 8:
            raise AuthenticationError(INVALID)
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in ALGORITHMS:
                raise jwt.InvalidAlgorithmError("algorithm not allowed")
            claims = jwt.decode(
                token,
                self.keys.key_for(token),
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "token_use", "client_id", "username"]},
            )
        except jwt.PyJWTError as e:
            # The reason (expired, wrong issuer ...) is the client's own business and says nothing
            # about the pool; the token itself is never put into the message.
            raise AuthenticationError(f"{INVALID}: {_reason(e)}") from None
        if claims.get("token_use") != "access":
            raise AuthenticationError(f"{INVALID}: not an access token")
        if claims.get("client_id") != self.client_id:
            raise AuthenticationError(f"{INVALID}: issued to another client")
        username = claims.get("username")
        if not isinstance(username, str) or not username:
            raise AuthenticationError(f"{INVALID}: names no user")
        principal = Principal(name=username, role=role_of(claims.get("cognito:groups")))
        auth_time = claims.get("auth_time", claims["iat"])
        return PersonToken(
            principal=principal,
            authenticated_at=datetime.fromtimestamp(int(auth_time), UTC),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )


def role_of(groups: object) -> Role:
    """The role the user's groups give: admin over teacher; ``AuthenticationError`` if neither."""
    names = set(groups) if isinstance(groups, list) else set()
    for group in ("admin", "teacher"):
        if group in names:
            return ROLE_BY_GROUP[group]
    # 401, not 403: without a role the token admits the holder to nothing at all.
    raise AuthenticationError(f"{INVALID}: the account has no role (admin or teacher)")


def looks_like_jwt(token: str) -> bool:
    """True for a three-part compact JWS (people's tokens); machine tokens have no dots."""
    return token.count(".") == 2


def _reason(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.ExpiredSignatureError):
        return "expired"
    if isinstance(error, jwt.InvalidIssuerError):
        return "wrong issuer"
    if isinstance(error, jwt.InvalidSignatureError):
        return "bad signature"
    if isinstance(error, jwt.InvalidAlgorithmError):
        return "algorithm not allowed"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"no {error.claim} claim"
    if isinstance(error, jwt.ImmatureSignatureError):
        return "issued in the future"
    return "malformed"
