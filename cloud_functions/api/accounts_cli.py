"""Teacher and admin accounts from a shell: ``python -m cloud_functions.api.accounts_cli <command>``.

The same actions as the API's ``/accounts`` routes, on the same User Pool
(``CLASSSIGHT_COGNITO_USER_POOL_ID``, ``CLASSSIGHT_COGNITO_CLIENT_ID``; on the local stack also
``CLASSSIGHT_AWS_ENDPOINT_URL``) and the same database (``CLASSSIGHT_DATABASE_URL``: the audit
entries, and the sign-outs that end a disabled account's sessions at once).

    list
    create --username ada --role admin        # asks for the password twice
    disable --username ada | enable --username ada
    reset-password --username ada

A password is never an argument (shell history and the process list would show it): it is asked
for without echo, or read from the first line of standard input with ``--password-stdin``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pydantic import TypeAdapter, ValidationError

from cloud_functions.api.accounts import Account, CognitoAccounts
from cloud_functions.api.crud import audit, sessions
from cloud_functions.api.schemas import PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, NewPassword, Username
from cloud_functions.core.aws import aws_client
from cloud_functions.core.db.engine import engine_for, transaction
from cloud_functions.core.errors import ClassSightError
from cloud_functions.core.settings import AccountsSettings, load_settings

_USERNAME = TypeAdapter(Username)
_PASSWORD = TypeAdapter(NewPassword)

PasswordSource = Callable[[], str]


def _actor() -> str:
    return f"cli:{os.environ.get('USER') or 'unknown'}"


def _prompted_password() -> str:
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _stdin_password() -> str:
    return sys.stdin.readline().rstrip("\r\n")


def _checked_password(source: PasswordSource) -> str:
    password = source()
    try:
        return _PASSWORD.validate_python(password).get_secret_value()
    except ValidationError:
        raise ValueError(
            f"the password must have {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters"
        ) from None


def _line(account: Account) -> str:
    state = "enabled" if account.enabled else "disabled"
    return f"{account.username}\t{account.role or '-'}\t{state}\t{account.status}"


def run(
    argv: Sequence[str],
    *,
    settings: AccountsSettings,
    password_source: PasswordSource | None = None,
) -> int:
    """Carry out one command; the exit status (0 done, 2 refused)."""
    parser = argparse.ArgumentParser(prog="accounts_cli", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="Every account: username, role, enabled or not, status.")
    create = commands.add_parser("create", help="A new enabled teacher or admin account.")
    create.add_argument("--role", required=True, choices=["admin", "teacher"])
    disable = commands.add_parser("disable", help="Disable an account; its sessions end at once.")
    enable = commands.add_parser("enable", help="Enable a disabled account.")
    reset = commands.add_parser("reset-password", help="A new password; the sessions end at once.")
    for sub in (create, disable, enable, reset):
        sub.add_argument("--username", required=True)
    for sub in (create, reset):
        sub.add_argument("--password-stdin", action="store_true", help="Read it from standard input.")
    args = parser.parse_args(argv)

    accounts = CognitoAccounts(
        aws_client("cognito-idp", settings),
        user_pool_id=settings.cognito_user_pool_id,
        client_id=settings.cognito_client_id,
    )
    if args.command == "list":
        for account in accounts.list_accounts():
            sys.stdout.write(_line(account) + "\n")
        return 0

    username = _USERNAME.validate_python(args.username)
    source = password_source or (
        _stdin_password if getattr(args, "password_stdin", False) else _prompted_password
    )
    engine = engine_for(settings)
    try:
        if args.command == "create":
            account = accounts.create_account(username, args.role, _checked_password(source))
            action = "create_account"
        elif args.command == "reset-password":
            password = _checked_password(source)
            account = accounts.get_account(username)
            with transaction(engine) as connection:
                sessions.end_sessions(connection, account.username, datetime.now(UTC))
            accounts.set_password(account.username, password)
            action = "reset_password"
        else:
            enabled = args.command == "enable"
            if not enabled:
                with transaction(engine) as connection:
                    sessions.end_sessions(connection, username, datetime.now(UTC))
            account = accounts.set_enabled(username, enabled)
            action = "enable_account" if enabled else "disable_account"
        with transaction(engine) as connection:
            audit.record(
                connection,
                actor=_actor(),
                action=action,
                entity="account",
                entity_id=account.username,
                after={"role": account.role, "enabled": account.enabled},
            )
    finally:
        engine.dispose()
    sys.stdout.write(_line(account) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: settings from the environment, errors as one line on stderr."""
    try:
        settings = load_settings(AccountsSettings)
        return run(sys.argv[1:] if argv is None else argv, settings=settings)
    except (ClassSightError, ValueError, ValidationError) as e:
        message = str(e).splitlines()[0] if not isinstance(e, ValidationError) else "invalid username"
        sys.stderr.write(f"accounts_cli: {message}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
