"""Teacher and admin accounts (admins only): list, create, disable or enable, reset a password.

The CLI ``python -m cloud_functions.api.accounts_cli`` does the same against the same pool.
Disabling an account or resetting its password ends its sessions at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from cloud_functions.api.accounts import Account
from cloud_functions.api.crud import audit, sessions
from cloud_functions.api.deps import AccountsDep, AdminUser, ConnectionDep
from cloud_functions.api.responses import AUTHENTICATED, WITH_BODY, documented
from cloud_functions.api.schemas import (
    USERNAME_PATTERN,
    AccountCreate,
    AccountPublic,
    AccountUpdate,
    PasswordReset,
)

router = APIRouter(prefix="/accounts", tags=["accounts"], responses={**AUTHENTICATED, **documented(403)})

UsernamePath = Annotated[str, Path(pattern=USERNAME_PATTERN, description="The account's sign-in name.")]


def _public(account: Account) -> AccountPublic:
    return AccountPublic(
        username=account.username,
        role=account.role,
        enabled=account.enabled,
        status=account.status,
        created_at=account.created_at,
    )


@router.get("", response_model=list[AccountPublic])
def list_accounts(accounts: AccountsDep, _admin: AdminUser) -> list[AccountPublic]:
    """Every teacher and admin account, by username."""
    return [_public(account) for account in accounts.list_accounts()]


@router.post(
    "",
    response_model=AccountPublic,
    status_code=status.HTTP_201_CREATED,
    responses={**WITH_BODY, **documented(409)},
)
def create_account(
    body: AccountCreate, accounts: AccountsDep, connection: ConnectionDep, admin: AdminUser
) -> AccountPublic:
    """A new enabled account in the role's group, with the password the admin hands over."""
    account = accounts.create_account(body.username, body.role, body.password.get_secret_value())
    audit.record(
        connection,
        actor=admin.name,
        action="create_account",
        entity="account",
        entity_id=account.username,
        after={"role": account.role, "enabled": account.enabled},
    )
    return _public(account)


@router.get("/{username}", response_model=AccountPublic, responses=documented(404, 422))
def get_account(username: UsernamePath, accounts: AccountsDep, _admin: AdminUser) -> AccountPublic:
    """One account."""
    return _public(accounts.get_account(username.lower()))


@router.patch("/{username}", response_model=AccountPublic, responses={**WITH_BODY, **documented(404)})
def update_account(
    username: UsernamePath,
    body: AccountUpdate,
    accounts: AccountsDep,
    connection: ConnectionDep,
    admin: AdminUser,
) -> AccountPublic:
    """Disable (its sessions end at once) or enable an account."""
    before = accounts.get_account(username.lower())
    if not body.enabled:
        sessions.end_sessions(connection, before.username, datetime.now(UTC))
    account = accounts.set_enabled(before.username, body.enabled)
    audit.record(
        connection,
        actor=admin.name,
        action="enable_account" if body.enabled else "disable_account",
        entity="account",
        entity_id=account.username,
        before={"enabled": before.enabled},
        after={"enabled": account.enabled},
    )
    return _public(account)


@router.put(
    "/{username}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**WITH_BODY, **documented(404)},
)
def reset_password(
    username: UsernamePath,
    body: PasswordReset,
    accounts: AccountsDep,
    connection: ConnectionDep,
    admin: AdminUser,
) -> Response:
    """Give the account a new password (the admin hands it over); its sessions end at once."""
    account = accounts.get_account(username.lower())
    sessions.end_sessions(connection, account.username, datetime.now(UTC))
    accounts.set_password(account.username, body.password.get_secret_value())
    audit.record(
        connection, actor=admin.name, action="reset_password", entity="account", entity_id=account.username
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
