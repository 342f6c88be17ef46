"""The OpenAPI document tells the truth: schemathesis against the real API, as admin and as teacher.

The API runs as the local stack serves it (the template's HTTP API in front of the Mangum handler)
on a seeded SQLite database, the local stack's bucket and its User Pool. ``st run --checks all`` calls every
operation with generated requests, valid and invalid ones, in a bounded number, and applies
every check it has: no 5xx, every status documented, every body matching its documented model,
invalid input refused, valid input accepted. A rule the schema cannot state (one field against
another, a date against today) still gives 422 for valid-looking input: those operations name
the rule in their description and are listed in ``schemathesis.toml`` beside this file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mangum import Mangum
from sqlalchemy.engine import Engine

from cloud_functions.api.app import create_app
from infra.local_stack import HttpApiGateway, LocalStack
from tests.integration.test_api_helpers import ADMIN_TOKEN, TEACHER_TOKEN, api_settings, seed

CONFIG = Path(__file__).with_name("schemathesis.toml")
ST = Path(sys.executable).with_name("st")


@pytest.fixture(scope="module")
def served_api(tmp_path_factory: pytest.TempPathFactory, local_stack: LocalStack) -> Iterator[HttpApiGateway]:
    from cloud_functions.core.db.engine import create_engine
    from infra.migrations import upgrade

    database_url = f"sqlite:///{tmp_path_factory.mktemp('contract') / 'classsight.db'}"
    upgrade(database_url)
    engine: Engine = create_engine(database_url)
    seed(engine)
    app = create_app(
        api_settings(
            database_url,
            aws_endpoint_url=local_stack.endpoint_url,
            aws_region=local_stack.region,
            bucket_name=local_stack.bucket_name,
            cognito_user_pool_id=local_stack.env("ApiFunction")["CLASSSIGHT_COGNITO_USER_POOL_ID"],
            cognito_client_id=local_stack.env("ApiFunction")["CLASSSIGHT_COGNITO_CLIENT_ID"],
        )
    )
    gateway = local_stack.http_api({"ApiFunction": Mangum(app, lifespan="off")}).start()
    yield gateway
    gateway.stop()
    app.state.engine.dispose()
    engine.dispose()


@pytest.mark.parametrize("token", [ADMIN_TOKEN, TEACHER_TOKEN], ids=["admin", "teacher"])
def test_every_operation_answers_as_documented(
    served_api: HttpApiGateway, token: str, tmp_path: Path
) -> None:
    # GIVEN the API's own OpenAPI document WHEN schemathesis runs every check on every operation
    completed = subprocess.run(
        [
            str(ST),
            "--config-file",
            str(CONFIG),
            "run",
            f"{served_api.url}/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {token}",
            "--seed",
            "20261201",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
    )
    # THEN nothing fails: no server error, no undocumented status, no response off its schema
    failures = completed.stdout.partition("=== FAILURES ===")[2] or completed.stdout
    assert completed.returncode == 0, failures[:20_000] + completed.stderr[-2000:]
