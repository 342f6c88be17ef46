"""People's access tokens: every check the API makes, one forged or stale token at a time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cloud_functions.api.errors import AuthenticationError
from cloud_functions.api.people import PeopleTokenVerifier, StaticKeys, looks_like_jwt, role_of

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool"
CLIENT_ID = "portalclient123"
KID = "key-1"

POOL_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks(key: rsa.RSAPrivateKey, kid: str = KID) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**public, "kid": kid, "alg": "RS256", "use": "sig"}]}


VERIFIER = PeopleTokenVerifier(issuer=ISSUER, client_id=CLIENT_ID, keys=StaticKeys(_jwks(POOL_KEY)))


def claims(**overrides: Any) -> dict[str, Any]:
    """The claims of a genuine access token of teacher ``tom``, issued now for 15 minutes."""
    now = int(time.time())
    values = {
        "iss": ISSUER,
        "sub": "0b7c-tom",
        "client_id": CLIENT_ID,
        "token_use": "access",
        "username": "tom",
        "cognito:groups": ["teacher"],
        "iat": now,
        "auth_time": now,
        "exp": now + 900,
        "jti": "j-1",
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def sign(payload: dict[str, Any], key: rsa.RSAPrivateKey = POOL_KEY, kid: str = KID) -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_genuine_token_names_the_user_and_role() -> None:
    # GIVEN a token the pool signed for teacher tom WHEN it is verified
    person = VERIFIER.verify(sign(claims()))
    # THEN tom is a teacher, and the token's times come back
    assert (person.principal.name, person.principal.role) == ("tom", "teacher")
    assert person.expires_at > person.authenticated_at


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: sign(claims(exp=int(time.time()) - 120, iat=int(time.time()) - 1000)), "expired"),
        (
            lambda: sign(claims(iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other")),
            "wrong issuer",
        ),
        (lambda: sign(claims(client_id="someoneelse")), "another client"),
        (lambda: sign(claims(token_use="id")), "not an access token"),
        (lambda: sign(claims(), key=OTHER_KEY), "bad signature"),
        (lambda: sign(claims(), kid="unknown-kid"), "malformed"),
        (lambda: sign(claims(exp=None)), "no exp claim"),
        (lambda: sign(claims(username=None)), "no username claim"),
        (
            lambda: sign(claims(iat=int(time.time()) + 3600, exp=int(time.time()) + 7200)),
            "issued in the future",
        ),
        (lambda: sign(claims(**{"cognito:groups": ["student"]})), "no role"),
        (lambda: sign(claims(**{"cognito:groups": None})), "no role"),
    ],
    ids=[
        "expired",
        "wrong-issuer",
        "wrong-audience",
        "id-token",
        "signed-by-another-key",
        "unknown-kid",
        "no-expiry",
        "no-username",
        "issued-in-future",
        "group-not-a-role",
        "no-group",
    ],
)
def test_a_token_failing_a_check_is_refused_with_its_reason(token: Any, reason: str) -> None:
    # GIVEN a token that fails one check WHEN it is verified THEN it is refused, saying which
    with pytest.raises(AuthenticationError, match=reason):
        VERIFIER.verify(token())


def test_alg_none_is_refused_before_any_key_is_tried() -> None:
    # GIVEN an unsigned token (alg none) with genuine-looking claims
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": KID}).encode())
    payload = _b64(json.dumps(claims(**{"cognito:groups": ["admin"]})).encode())
    unsigned = f"{header}.{payload}."
    # WHEN it is verified THEN it is refused
    with pytest.raises(AuthenticationError, match="algorithm not allowed"):
        VERIFIER.verify(unsigned)


def test_an_hmac_token_keyed_with_the_public_key_is_refused() -> None:
    # GIVEN the classic algorithm confusion: HS256 keyed with the pool's public key (PEM)
    public_pem = POOL_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    payload = _b64(json.dumps(claims()).encode())
    signature = _b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    # WHEN it is verified THEN it is refused
    with pytest.raises(AuthenticationError, match="algorithm not allowed"):
        VERIFIER.verify(f"{header}.{payload}.{signature}")


def test_a_teacher_who_edits_their_group_to_admin_is_refused() -> None:
    # GIVEN teacher tom's genuine token with its payload rewritten to the admin group
    header, _, signature = sign(claims()).split(".")
    forged = _b64(json.dumps(claims(**{"cognito:groups": ["admin"]})).encode())
    # WHEN it is verified THEN the signature no longer matches
    with pytest.raises(AuthenticationError, match="bad signature"):
        VERIFIER.verify(f"{header}.{forged}.{signature}")


def test_the_refusal_never_quotes_the_token() -> None:
    token = sign(claims(client_id="someoneelse"))
    with pytest.raises(AuthenticationError) as refused:
        VERIFIER.verify(token)
    assert token not in str(refused.value)
    assert token.split(".")[2] not in str(refused.value)


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        (["teacher"], "teacher"),
        (["admin"], "admin"),
        (["teacher", "admin"], "admin"),
        (["admin", "x"], "admin"),
    ],
)
def test_the_strongest_group_is_the_role(groups: list[str], role: str) -> None:
    assert role_of(groups) == role


@pytest.mark.parametrize(
    ("token", "is_jwt"),
    [(sign(claims()), True), ("kA3-machine_token_urlsafe", False), ("a.b", False)],
)
def test_only_three_part_tokens_are_checked_as_jwts(token: str, is_jwt: bool) -> None:
    assert looks_like_jwt(token) is is_jwt
