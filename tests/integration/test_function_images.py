"""Every function image, built from template.yaml as ``sam build`` builds it and run as Lambda runs it.

Each image is built with ``python -m infra.images``'s code (podman here, Docker where its daemon
answers; the AWS Lambda base where it can be pulled, else the local stand-in, made once and then
reused from the engine's store). Its entrypoint starts with the template's ``ImageConfig.Command``,
read-only but ``/tmp``, as Lambda's unprivileged user, with no way out to the internet, against
the real local endpoint and a MariaDB database on 127.0.0.1, and gets its ``tests/events`` sample
through the Lambda Runtime API.

Slow on a fresh machine (the base and the third-party layers, about five minutes on two cores);
seconds once the engine's store holds them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from cloud_functions.core.db.engine import create_engine
from infra.images.base import BaseImage, resolve_base
from infra.images.build import LOG_DIR, BuiltImage, build_function_image, stage_models
from infra.images.engine import ContainerEngine, docker_daemon_answers, select_engine
from infra.images.functions import select_functions
from infra.images.runner import FunctionContainer
from infra.images.samples import (
    SAMPLES,
    DeepFaceStandInSample,
    FunctionSample,
    SampleWorld,
    build_deepface_standin_image,
    deepface_standin_weights,
    production_face_parameters,
    sample_parameter_overrides,
)
from infra.local_stack import LocalStack
from infra.local_stack.template import load_template_document
from infra.migrations import upgrade
from tests.conftest import DATA_DIR, MODELS_DIR
from tests.local_stack_fixtures import LocalStackFactory

pytestmark = [pytest.mark.slow, pytest.mark.mariadb, pytest.mark.timeout(1800)]

# Where the images keep their weights: the template's ModelsDir, as deployed.
IMAGE_MODELS_DIR = str(load_template_document()["Parameters"]["ModelsDir"]["Default"])


@pytest.fixture(scope="module")
def container_engine() -> ContainerEngine:
    if os.geteuid() != 0 and not docker_daemon_answers():
        pytest.skip("building and starting the images needs root (podman, chroot) or a Docker daemon")
    return select_engine()


@pytest.fixture(scope="module")
def base(container_engine: ContainerEngine) -> BaseImage:
    return resolve_base(container_engine, "auto", log_dir=LOG_DIR)


@pytest.fixture(scope="module")
def image_stack(local_stack_factory: LocalStackFactory) -> LocalStack:
    """The template with the images' ModelsDir, as a deployment would have it."""
    return local_stack_factory(ModelsDir=IMAGE_MODELS_DIR, **sample_parameter_overrides())


@pytest.fixture
def database(mysql_url: str) -> Iterator[Engine]:
    upgrade(mysql_url)
    engine = create_engine(mysql_url)
    yield engine
    engine.dispose()


def built(container_engine: ContainerEngine, base: BaseImage, logical_id: str) -> BuiltImage:
    [function] = select_functions([logical_id])
    stage_models()
    return build_function_image(container_engine, function, base, embedder_weights="settings")


def run_sample(
    container_engine: ContainerEngine,
    image: str,
    stack: LocalStack,
    sample: FunctionSample,
    database: Engine,
    mysql_url: str,
) -> tuple[FunctionContainer, str, list[Any]]:
    """Stage the sample, start the image (cold), send the event, check, send it again (warm)."""
    world = SampleWorld(stack, database, DATA_DIR, MODELS_DIR)
    sample.stage(world)
    container = FunctionContainer(
        container_engine,
        image,
        function=stack.functions[sample.logical_id],
        environment=stack.env(sample.logical_id, CLASSSIGHT_DATABASE_URL=mysql_url),
    )
    with container:
        first = container.invoke(sample.event())
        outcome = sample.check(world, first.result())
        again = container.invoke(sample.event())
    return container, outcome, [first.result(), again.result()]


@pytest.mark.parametrize("logical_id", list(SAMPLES))
def test_function_image_handles_its_sample_event_as_lambda_would(
    logical_id: str,
    container_engine: ContainerEngine,
    base: BaseImage,
    image_stack: LocalStack,
    database: Engine,
    mysql_url: str,
) -> None:
    # GIVEN the function's image, built from its Dockerfile with the weights of build/models/
    image = built(container_engine, base, logical_id)
    # WHEN its entrypoint starts with the template's ImageConfig.Command and gets the sample event
    # (objects and rows it names in place), then the same event again, as a redelivery
    container, outcome, (first, again) = run_sample(
        container_engine, image.image, image_stack, SAMPLES[logical_id], database, mysql_url
    )
    # THEN the handler was imported inside the image and did what the event asks (checked by the
    # sample), with its weights baked in: no way out to the internet, nothing left in /tmp
    assert container.init_s is not None and container.tmp_files == []
    # AND the redelivery is answered the same way
    if logical_id == "ApiFunction":
        assert (again["statusCode"], again["body"]) == (first["statusCode"], first["body"])
    else:
        assert again == first == {"batchItemFailures": []}
    print(f"{logical_id}: {outcome}; {image.size_bytes / 1e6:,.0f} MB; init {container.init_s:.2f} s")


def test_face_match_image_runs_the_production_embedder_from_baked_weights(
    container_engine: ContainerEngine,
    base: BaseImage,
    local_stack_factory: LocalStackFactory,
    database: Engine,
    mysql_url: str,
) -> None:
    # GIVEN the face_match image with DeepFace ArcFace weights baked in where DeepFace's download
    # would put them (its architecture with its initial weights: the published ones cannot be fetched)
    image = build_deepface_standin_image(container_engine, base)
    # AND the template's production embedder parameters (FaceEmbedder=deepface)
    stack = local_stack_factory(
        ModelsDir=IMAGE_MODELS_DIR, **sample_parameter_overrides(), **production_face_parameters()
    )
    assert stack.functions["FaceMatchFunction"].environment["CLASSSIGHT_FACE_EMBEDDER"] == "deepface"
    # WHEN the sample capture reaches the image, the student enrolled here with the same photo
    sample = DeepFaceStandInSample(deepface_standin_weights())
    container, outcome, (first, _) = run_sample(
        container_engine, image.image, stack, sample, database, mysql_url
    )
    # THEN TensorFlow and DeepFace load inside the image from the baked file, without any download,
    # and compute the embedding this machine computes (the sample checks similarity ~1)
    assert first == {"batchItemFailures": []} and container.tmp_files == []
    print(f"deepface stand-in: {outcome}; {image.size_bytes / 1e6:,.0f} MB; init {container.init_s:.2f} s")
