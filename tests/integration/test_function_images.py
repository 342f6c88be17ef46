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

import pytest

from infra.images.base import BaseImage, resolve_base
from infra.images.build import LOG_DIR, BuiltImage, build_function_image, stage_models
from infra.images.engine import ContainerEngine, docker_daemon_answers, select_engine
from infra.images.functions import select_functions
from infra.images.samples import (
    SAMPLES,
    DeepFaceStandInSample,
    build_deepface_standin_image,
    deepface_standin_weights,
    production_face_parameters,
    run_sample_in_image,
    sample_parameter_overrides,
)
from infra.local_stack import LocalStack
from infra.local_stack.template import load_template_document
from infra.migrations import upgrade
from tests.conftest import DATA_DIR, MODELS_DIR
from tests.local_stack_fixtures import LocalStackFactory

pytestmark = [pytest.mark.slow, pytest.mark.mariadb, pytest.mark.timeout(1800)]

DATA = {"data_dir": DATA_DIR, "models_dir": MODELS_DIR}
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
def database_url(mysql_url: str) -> str:
    """A migrated MariaDB database the images reach on 127.0.0.1."""
    upgrade(mysql_url)
    return mysql_url


def built(container_engine: ContainerEngine, base: BaseImage, logical_id: str) -> BuiltImage:
    [function] = select_functions([logical_id])
    stage_models()
    return build_function_image(container_engine, function, base, embedder_weights="settings")


@pytest.mark.parametrize("logical_id", list(SAMPLES))
def test_function_image_handles_its_sample_event_as_lambda_would(
    logical_id: str,
    container_engine: ContainerEngine,
    base: BaseImage,
    image_stack: LocalStack,
    database_url: str,
) -> None:
    # GIVEN the function's image, built from its Dockerfile with the weights of build/models/
    image = built(container_engine, base, logical_id)
    # WHEN its entrypoint starts with the template's ImageConfig.Command and gets the sample event
    # (objects and rows it names in place), then the same event again, as a redelivery
    run = run_sample_in_image(
        container_engine, image.image_id, image_stack, SAMPLES[logical_id], database_url, **DATA
    )
    container, first, again = run.container, run.first.result(), run.again.result()
    # THEN the handler was imported inside the image and did what the event asks (checked by the
    # sample), with its weights baked in: no way out to the internet, nothing left in /tmp
    assert container.init_s is not None and container.tmp_files == []
    # AND the redelivery is answered the same way, or (a scheduled event) changes nothing more
    if logical_id == "ApiFunction":
        assert (again["statusCode"], again["body"]) == (first["statusCode"], first["body"])
    elif logical_id == "SweepFunction":
        assert (again["sessions_swept"], again["absences_written"]) == (0, 0)
    elif logical_id == "NotifyFunction":
        assert (again["sent"], again["already_sent"]) == (0, 1)
    else:
        assert again == first == {"batchItemFailures": []}
    print(f"{logical_id}: {run.outcome}; {image.size_bytes / 1e6:,.0f} MB; init {container.init_s:.2f} s")


def test_face_match_image_runs_the_production_embedder_from_baked_weights(
    container_engine: ContainerEngine,
    base: BaseImage,
    local_stack_factory: LocalStackFactory,
    database_url: str,
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
    run = run_sample_in_image(container_engine, image.image_id, stack, sample, database_url, **DATA)
    # THEN TensorFlow and DeepFace load inside the image from the baked file, without any download,
    # and compute the embedding this machine computes (the sample checks similarity ~1)
    assert run.first.result() == {"batchItemFailures": []} and run.container.tmp_files == []
    print(f"deepface stand-in: {run.outcome}; {image.size_bytes / 1e6:,.0f} MB")
