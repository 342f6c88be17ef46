"""The accounts CLI on the local stack's User Pool: every admin action, and what it refuses."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.engine import Engine

from cloud_functions.api.accounts_cli import run
from cloud_functions.core.settings import AccountsSettings
from infra.local_stack import LocalStack
from tests.integration.test_api_helpers import audit_entries
from tests.integration.test_api_sign_in import PASSWORD, pool_settings


@pytest.fixture
def settings(engine: Engine, database_url: str, local_stack: LocalStack) -> AccountsSettings:
    return AccountsSettings(database_url=database_url, **pool_settings(local_stack))


def test_create_disable_enable_and_reset_from_the_shell(
    settings: AccountsSettings, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    username = f"c{uuid.uuid4().hex[:10]}"
    # WHEN an admin creates a teacher, disables, enables and resets the password
    assert (
        run(
            ["create", "--username", username, "--role", "teacher"],
            settings=settings,
            password_source=lambda: PASSWORD,
        )
        == 0
    )
    assert run(["disable", "--username", username], settings=settings) == 0
    assert run(["enable", "--username", username], settings=settings) == 0
    assert (
        run(
            ["reset-password", "--username", username],
            settings=settings,
            password_source=lambda: PASSWORD + "?",
        )
        == 0
    )
    assert run(["list"], settings=settings) == 0
    # THEN each step printed the account, the list shows it enabled, and each is audited
    out = capsys.readouterr().out
    assert f"{username}\tteacher\tdisabled\tCONFIRMED" in out
    assert out.splitlines().count(f"{username}\tteacher\tenabled\tCONFIRMED") >= 2
    actions = ["create_account", "disable_account", "enable_account", "reset_password"]
    assert [len(audit_entries(engine, action)) for action in actions] == [1, 1, 1, 1]
    # AND the password never reached the output
    assert PASSWORD not in out


def test_a_short_password_is_refused_before_anything_is_made(settings: AccountsSettings) -> None:
    username = f"c{uuid.uuid4().hex[:10]}"
    with pytest.raises(ValueError, match="12 to 64 characters"):
        run(
            ["create", "--username", username, "--role", "admin"],
            settings=settings,
            password_source=lambda: "short",
        )
    assert username not in {line.split("\t")[0] for line in _listed(settings)}


def _listed(settings: AccountsSettings) -> list[str]:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        run(["list"], settings=settings)
    return buffer.getvalue().splitlines()
