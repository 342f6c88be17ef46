"""Bearer tokens and roles.

Settings hold only sha256 digests of tokens (``CLASSSIGHT_API_TOKENS``). A presented token is
hashed and compared with every configured digest in constant time, without stopping at a match,
so response timing says nothing about which digests exist.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cloud_functions.api.errors import AuthenticationError, PermissionDeniedError
from cloud_functions.core.settings import ApiToken

Role = Literal["admin", "teacher"]

# Longer tokens are refused before hashing; real tokens are 32-64 characters.
MAX_TOKEN_CHARS = 512


@dataclass(frozen=True)
class Principal:
    """The caller: a name for the audit log and a role."""

    name: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def token_digest(token: str) -> str:
    """The configured form of a token: lowercase hex sha256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def authenticate(token: str | None, tokens: Mapping[str, ApiToken]) -> Principal:
    """The principal holding ``token``, or ``AuthenticationError``."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise AuthenticationError("missing or invalid bearer token")
    presented = token_digest(token).encode("ascii")
    found: ApiToken | None = None
    for digest, entry in tokens.items():
        if hmac.compare_digest(presented, digest.encode("ascii")):
            found = entry
    if found is None:
        raise AuthenticationError("missing or invalid bearer token")
    return Principal(name=found.name, role=found.role)


def require_role(principal: Principal, *roles: Role) -> Principal:
    """``principal`` if its role is one of ``roles``, else ``PermissionDeniedError``."""
    if principal.role not in roles:
        raise PermissionDeniedError(f"role {principal.role!r} may not do this")
    return principal
