"""pytest plugin: the real local AWS endpoint with ``template.yaml`` provisioned on it.

Registered in ``tests/conftest.py`` (``pytest_plugins``). Fixtures:

- ``local_endpoint`` (session): a moto server on a free port of 127.0.0.1, stopped after the session.
- ``local_stack`` (session): the template provisioned with ``Stage=test``, the shared weights as
  ``ModelsDir`` and a session SQLite file as ``DatabaseUrl`` (not migrated: tests that need a
  database pass their own with ``environment_overrides={"CLASSSIGHT_DATABASE_URL": url}``).
  Everything of :class:`infra.local_stack.LocalStack` is there: ``endpoint_url``, ``region``,
  ``bucket_name``, ``handoff_topic_arn``, ``queue_url("FaceMatchFunction")``,
  ``dlq_url("FaceCapturesQueue")``, ``room_queue_url("R101")``, ``env(...)``, ``client("s3")``,
  ``drain("FaceMatchFunction", handler=None)`` and ``http_api({"ApiFunction": handler})`` (the
  HTTP API as API Gateway serves it; ``.start()``, ``.url``, ``.stop()``).
- ``clean_local_stack``: the same stack with every queue purged first (messages in flight too);
  use it when a test drains.
- ``local_stack_factory`` (session): ``factory(**parameter_overrides)`` provisions another copy of
  the template on the same endpoint under its own stage, e.g. with a 1 s visibility timeout for
  retry tests. Example::

      def test_face_capture_reaches_handler(clean_local_stack, sqlite_url):
          stack = clean_local_stack
          s3 = stack.client("s3")
          s3.put_object(Bucket=stack.bucket_name, Key="captures/faces/R101/d/c.jpg", Body=jpeg)
          result = stack.drain(
              "FaceMatchFunction", environment_overrides={"CLASSSIGHT_DATABASE_URL": sqlite_url}
          )
          assert not result.errors
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cloud_functions.core.settings import DEFAULT_MODELS_DIR
from infra.local_stack import LocalStack, MotoEndpoint, local_parameter_overrides

LocalStackFactory = Callable[..., LocalStack]

_stage_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def local_endpoint() -> Iterator[MotoEndpoint]:
    """The local AWS-compatible endpoint (moto server) for the whole session.

    Purges are not rate-limited here, so each test can start from empty queues.
    """
    with MotoEndpoint(strict_purge=False) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def local_stack_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The SQLite URL the session stack's functions get as ``CLASSSIGHT_DATABASE_URL``."""
    path: Path = tmp_path_factory.mktemp("local_stack") / "classsight.db"
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def local_stack(local_endpoint: MotoEndpoint, local_stack_database_url: str) -> LocalStack:
    """``template.yaml`` provisioned once per session on the local endpoint (``Stage=test``)."""
    return LocalStack.provision(
        local_endpoint.endpoint_url,
        parameter_overrides=local_parameter_overrides(
            local_stack_database_url, stage="test", models_dir=DEFAULT_MODELS_DIR
        ),
        stack_name="classsight-test",
    )


@pytest.fixture
def clean_local_stack(local_stack: LocalStack) -> LocalStack:
    """The session stack with every queue emptied, so a test drains only what it put."""
    local_stack.purge()
    return local_stack


@pytest.fixture(scope="session")
def local_stack_factory(local_endpoint: MotoEndpoint, local_stack_database_url: str) -> LocalStackFactory:
    """Provision further copies of the template: ``factory(QueueVisibilityTimeout="1", ...)``.

    Each copy gets its own stage (``t1``, ``t2`` ...) so names never collide on the shared endpoint.
    """

    def factory(**parameter_overrides: str) -> LocalStack:
        stage = f"t{next(_stage_numbers)}"
        overrides = {
            **local_parameter_overrides(local_stack_database_url, stage=stage),
            **parameter_overrides,
        }
        return LocalStack.provision(
            local_endpoint.endpoint_url, parameter_overrides=overrides, stack_name=f"classsight-{stage}"
        )

    return factory
