"""People's accounts (teachers and admins) in the Cognito User Pool: sign-in and administration.

One adapter, :class:`CognitoAccounts`, over the ``cognito-idp`` API. On AWS it talks to the pool
the template creates; on the local stack to the same pool created at the local endpoint (moto),
which implements the calls used here and signs real RS256 tokens. SDK errors become the project's
own types here, so routes and the CLI decide by type.

An account's role is its group (``admin`` or ``teacher``); its name is the Cognito username,
which is also ``Principal.name`` in the audit log and the teacher's username in the rosters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from cloud_functions.api.auth import Role
from cloud_functions.api.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    RecordNotFoundError,
)
from cloud_functions.core.errors import ConfigurationError, TransientError

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

ROLES: tuple[Role, ...] = ("admin", "teacher")

# botocore logs every request and response body at DEBUG: for this API those hold passwords and
# tokens. Its body loggers stay at INFO whatever the root level, so turning on DEBUG to chase a
# problem never writes a password into the logs.
for _name in ("botocore.endpoint", "botocore.parsers", "botocore.hooks", "botocore.httpchecksum"):
    _logger = logging.getLogger(_name)
    if _logger.level < logging.INFO:  # NOTSET (0) too: it would follow the root down to DEBUG
        _logger.setLevel(logging.INFO)
WRONG_CREDENTIALS = "wrong username or password"


class IdentityProviderError(TransientError):
    """The User Pool could not be reached or failed the call; trying again may work."""


class SignInNotConfiguredError(IdentityProviderError):
    """This API has no User Pool configured, so people cannot sign in to it."""


class SignInRefusedError(AuthenticationError):
    """The name and password do not sign anyone in (unknown name, wrong password, disabled)."""


@dataclass(frozen=True)
class SessionTokens:
    """What a sign-in or refresh hands the portal."""

    access_token: str
    expires_in_s: int
    refresh_token: str | None


@dataclass(frozen=True)
class Account:
    """A person who can sign in."""

    username: str
    role: Role | None
    enabled: bool
    status: str
    created_at: datetime | None


class CognitoAccounts:
    """Sign-in and account administration on one User Pool and its portal app client.

    Args:
        client: A ``cognito-idp`` client (the local endpoint's or AWS's).
        user_pool_id: The pool.
        client_id: The portal's app client (no secret: a browser cannot keep one).
    """

    def __init__(self, client: CognitoIdentityProviderClient, *, user_pool_id: str, client_id: str) -> None:
        if not user_pool_id or not client_id:
            raise ConfigurationError(
                "sign-in needs CLASSSIGHT_COGNITO_USER_POOL_ID and CLASSSIGHT_COGNITO_CLIENT_ID"
            )
        self.client = client
        self.user_pool_id = user_pool_id
        self.client_id = client_id

    # --- sign-in -----------------------------------------------------------------------------

    def sign_in(self, username: str, password: str) -> SessionTokens:
        """The tokens of a new session, or ``SignInRefusedError`` (the same for every reason)."""
        try:
            answer = self.client.initiate_auth(
                ClientId=self.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except ClientError as e:
            code = _code(e)
            if code in ("NotAuthorizedException", "UserNotFoundException", "UserNotConfirmedException"):
                raise SignInRefusedError(WRONG_CREDENTIALS) from None
            if code == "PasswordResetRequiredException":
                raise SignInRefusedError("this password must be reset; ask an admin") from None
            raise _provider_error(e) from None
        except BotoCoreError as e:
            raise IdentityProviderError("the sign-in service is unavailable; try again") from e
        if "AuthenticationResult" not in answer:
            # A challenge (e.g. NEW_PASSWORD_REQUIRED): accounts made here get permanent passwords.
            raise SignInRefusedError("this account needs a new password; ask an admin to set one")
        return _tokens(answer["AuthenticationResult"], refresh_token=None)

    def refresh(self, refresh_token: str) -> SessionTokens:
        """A new access token for the session of ``refresh_token``; refused once signed out."""
        try:
            answer = self.client.initiate_auth(
                ClientId=self.client_id,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token},
            )
        except ClientError as e:
            if _code(e) in ("NotAuthorizedException", "UserNotFoundException"):
                raise AuthenticationError("the session has ended; sign in again") from None
            raise _provider_error(e) from None
        except BotoCoreError as e:
            raise IdentityProviderError("the sign-in service is unavailable; try again") from e
        result = answer.get("AuthenticationResult")
        if not result:
            raise AuthenticationError("the session has ended; sign in again")
        return _tokens(result, refresh_token=refresh_token)

    def sign_out(self, username: str) -> None:
        """End every session of ``username``: its refresh tokens stop working at once."""
        self._admin("admin_user_global_sign_out", username)

    # --- administration ----------------------------------------------------------------------

    def list_accounts(self) -> list[Account]:
        """Every account of the pool, by username."""
        roles: dict[str, Role] = {}
        for role in reversed(ROLES):  # admin last: it wins for someone in both groups
            for user in self._paged("list_users_in_group", "Users", GroupName=role):
                roles[user["Username"]] = role
        users = self._paged("list_users", "Users")
        accounts = [_account(user, roles.get(user["Username"])) for user in users]
        return sorted(accounts, key=lambda account: account.username)

    def get_account(self, username: str) -> Account:
        """One account, or ``RecordNotFoundError``."""
        user = self._admin("admin_get_user", username)
        groups = self._admin("admin_list_groups_for_user", username)["Groups"]
        names = {group["GroupName"] for group in groups}
        role = next((role for role in ROLES if role in names), None)
        return Account(
            username=user["Username"],
            role=role,
            enabled=bool(user.get("Enabled", True)),
            status=str(user.get("UserStatus", "")),
            created_at=user.get("UserCreateDate"),
        )

    def create_account(self, username: str, role: Role, password: str) -> Account:
        """A new enabled account in ``role``'s group with a permanent ``password``.

        No e-mail or SMS is sent (``MessageAction=SUPPRESS``): the admin hands the password over.
        """
        self._admin("admin_create_user", username, MessageAction="SUPPRESS")
        try:
            self._admin("admin_set_user_password", username, Password=password, Permanent=True)
            self._admin("admin_add_user_to_group", username, GroupName=role)
        except Exception:
            # Nothing half made: an account without its password or group is removed again.
            self._admin("admin_delete_user", username)
            raise
        return self.get_account(username)

    def set_enabled(self, username: str, enabled: bool) -> Account:
        """Enable or disable an account; disabling also ends its sessions."""
        if enabled:
            self._admin("admin_enable_user", username)
        else:
            self._admin("admin_disable_user", username)
            self._admin("admin_user_global_sign_out", username)
        return self.get_account(username)

    def set_password(self, username: str, password: str) -> None:
        """Give the account a new permanent password and end its sessions."""
        self._admin("admin_set_user_password", username, Password=password, Permanent=True)
        self._admin("admin_user_global_sign_out", username)

    # --- plumbing ----------------------------------------------------------------------------

    def _admin(self, operation: str, username: str, **kwargs: Any) -> Any:
        call = getattr(self.client, operation)
        try:
            return call(UserPoolId=self.user_pool_id, Username=username, **kwargs)
        except ClientError as e:
            code = _code(e)
            if code == "UserNotFoundException":
                raise RecordNotFoundError(f"no account {username!r}") from None
            if code == "UsernameExistsException":
                raise ConflictError(f"an account {username!r} exists already") from None
            if code == "InvalidPasswordException":
                raise InvalidRequestError(
                    "the password does not meet the pool's policy", loc=("body", "password")
                ) from None
            raise _provider_error(e) from None
        except BotoCoreError as e:
            raise IdentityProviderError("the account service is unavailable; try again") from e

    def _paged(self, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        # ListUsers pages with PaginationToken, ListUsersInGroup with NextToken.
        token_key = "PaginationToken" if operation == "list_users" else "NextToken"
        call = getattr(self.client, operation)
        items: list[dict[str, Any]] = []
        token: str | None = None
        try:
            while True:
                page = call(UserPoolId=self.user_pool_id, **kwargs, **({token_key: token} if token else {}))
                items.extend(page.get(key, []))
                token = page.get(token_key)
                if not token:
                    return items
        except ClientError as e:
            raise _provider_error(e) from None
        except BotoCoreError as e:
            raise IdentityProviderError("the account service is unavailable; try again") from e


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _provider_error(error: ClientError) -> Exception:
    code = _code(error)
    if code in ("InvalidParameterException",):
        return InvalidRequestError("the account service refused a value")
    # The code names the failure for the log; messages may quote the request, so they stay out.
    return IdentityProviderError(f"the account service failed ({code or 'unknown error'}); try again")


def _tokens(result: Any, *, refresh_token: str | None) -> SessionTokens:
    return SessionTokens(
        access_token=str(result["AccessToken"]),
        expires_in_s=int(result.get("ExpiresIn", 3600)),
        refresh_token=str(result["RefreshToken"]) if result.get("RefreshToken") else refresh_token,
    )


def _account(user: dict[str, Any], role: Role | None) -> Account:
    return Account(
        username=str(user["Username"]),
        role=role,
        enabled=bool(user.get("Enabled", True)),
        status=str(user.get("UserStatus", "")),
        created_at=user.get("UserCreateDate"),
    )
