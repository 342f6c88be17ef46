"""Build the function images as ``sam build`` does: weights into ``build/models/``, then each
function's Dockerfile with the repository root as context, tagged as SAM tags it.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cloud_functions.core.settings import FunctionSettings
from infra.images.base import BaseImage, Log
from infra.images.engine import ContainerEngine, ImageError
from infra.images.functions import ImageFunction, packages_left_out
from infra.local_stack.template import REPO_ROOT

MODELS_DIR = REPO_ROOT / "build" / "models"
LOG_DIR = REPO_ROOT / "build" / "logs"
# Lambda refuses container images larger than this (uncompressed, all layers).
LAMBDA_IMAGE_LIMIT_BYTES = 10 * 1024**3
# The edge's detector stack has no place in a function image (each would add gigabytes).
EDGE_ONLY_DISTRIBUTIONS = frozenset({"torch", "torchvision", "ultralytics", "openvino"})

EmbedderWeights = Literal["deepface", "settings"]
"""Where the face embedder's weights in the image come from: DeepFace's ArcFace download at build
time (production), or the embedder file the settings name, staged into ``build/models/face/``."""


@dataclass(frozen=True)
class BuiltImage:
    """A function image that was built: its name and id, size and how long the build took."""

    function: ImageFunction
    image: str
    image_id: str
    """What was built, whatever the name points at later: run this."""
    size_bytes: int
    seconds: float


def model_files(settings: FunctionSettings) -> dict[str, Path]:
    """The weights a function image bakes in, by their path under ``ModelsDir`` (``build/models/``).

    The template's function environment names them under ``ModelsDir``: the face detector and
    embedder in ``face/``, the body re-id model in ``reid/``, each by its own file name.
    """
    files = {
        f"face/{settings.resolved_face_detector_path.name}": settings.resolved_face_detector_path,
        f"reid/{settings.reid_weights_path.name}": settings.reid_weights_path,
    }
    # DeepFace's own weights come from its download at build time, not from here.
    if settings.face_embedder == "onnx":
        files[f"face/{settings.face_embedder_path.name}"] = settings.face_embedder_path
    # Door anti-spoofing (face_match re-checks each upload): the converted ONNX files; the image's
    # ENV names them under /opt/models/antispoof/.
    for path in settings.liveness_model_paths:
        files[f"antispoof/{path.name}"] = path
    return files


def weights_settings() -> FunctionSettings:
    """The functions' settings for their model paths (environment, ``.env``, defaults).

    The values a deployed function needs before it starts (database, bucket, topic) play no part in
    which weights go into an image, so placeholders stand in for any that are unset.
    """
    return FunctionSettings(database_url="sqlite://", bucket_name="unset", handoff_topic_arn="unset")


def stage_models(
    settings: FunctionSettings | None = None,
    dest: Path = MODELS_DIR,
    *,
    extra: Mapping[str, Path] | None = None,
) -> list[Path]:
    """Make ``dest`` (``build/models/``) hold the weights the settings name, and nothing else.

    ``extra`` adds files by their path under ``ModelsDir``. Files are written readable by everyone:
    Lambda runs the function as an unprivileged user. Returns the staged files.
    """
    files = {**model_files(settings or weights_settings()), **(extra or {})}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise ImageError(f"weights named by the settings are missing: {', '.join(missing)}")
    staged = []
    for relative, source in files.items():
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if (
            not target.is_file()
            or target.stat().st_size != source.stat().st_size
            or (target.read_bytes() != source.read_bytes())
        ):
            target.unlink(missing_ok=True)
            shutil.copyfile(source, target)
        target.chmod(0o644)
        staged.append(target)
    # Whatever else is there would be baked into the images too.
    for leftover in sorted(p for p in dest.rglob("*") if p.is_file() and p not in staged):
        leftover.unlink()
    return staged


def dockerfile_args(dockerfile: Path) -> set[str]:
    """The build arguments a Dockerfile declares (``ARG NAME`` or ``ARG NAME=default``)."""
    return set(
        re.findall(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)", dockerfile.read_text(encoding="utf-8"), re.MULTILINE)
    )


def build_args(function: ImageFunction, base: BaseImage, embedder_weights: EmbedderWeights) -> dict[str, str]:
    """The template's ``DockerBuildArgs`` plus what this machine decides: the base and the weights."""
    wanted = {
        "BASE_IMAGE": base.image,
        "FACE_EMBEDDER_WEIGHTS": "deepface" if embedder_weights == "deepface" else "build-context",
    }
    declared = dockerfile_args(function.dockerfile_path)
    return {**function.build_args, **{key: value for key, value in wanted.items() if key in declared}}


def build_function_image(
    engine: ContainerEngine,
    function: ImageFunction,
    base: BaseImage,
    *,
    embedder_weights: EmbedderWeights,
    log_dir: Path = LOG_DIR,
    image: str | None = None,
) -> BuiltImage:
    """Build one function's image (tagged as SAM tags it unless ``image`` says otherwise).

    Reused layers make a rebuild after a code change take seconds.
    """
    image = image or function.image
    started = time.monotonic()
    image_id = engine.build(
        function.dockerfile_path,
        function.context,
        image,
        build_args(function, base, embedder_weights),
        log_dir / f"{function.name}.log",
    )
    seconds = time.monotonic() - started
    size = engine.config(image_id).size_bytes
    if size > LAMBDA_IMAGE_LIMIT_BYTES:
        raise ImageError(f"{image} is {size / 1e9:.1f} GB: Lambda takes images up to 10 GB")
    edge_only = engine.distributions(image_id) & EDGE_ONLY_DISTRIBUTIONS
    if edge_only:
        raise ImageError(
            f"{image} holds {', '.join(sorted(edge_only))}: a dependency of its extra pulls them in"
        )
    return BuiltImage(function, image, image_id, size, seconds)


def build_function_images(
    engine: ContainerEngine,
    functions: Sequence[ImageFunction],
    base: BaseImage,
    *,
    embedder_weights: EmbedderWeights,
    log_dir: Path = LOG_DIR,
    log: Log = print,
) -> list[BuiltImage]:
    """Build each function's image in turn, logging one line per image.

    First checks that every image's context holds the project packages its handler imports: an
    image without them builds, and then fails at its first cold start.
    """
    for function in functions:
        left_out = packages_left_out(function)
        if left_out:
            raise ImageError(
                f"{function.handler} imports {', '.join(sorted(left_out))}, which .dockerignore leaves out "
                "of the images: add a line `!<package>/` there"
            )
    built = []
    for function in functions:
        log(f"building {function.image} ({function.dockerfile})")
        image = build_function_image(
            engine, function, base, embedder_weights=embedder_weights, log_dir=log_dir
        )
        log(f"  {image.size_bytes / 1e6:,.0f} MB in {image.seconds:.1f} s")
        built.append(image)
    return built


def build_table(images: Sequence[BuiltImage]) -> str:
    """The build report as a Markdown table: image, size, build time."""
    lines = ["| function | image | size | build time |", "|---|---|---:|---:|"]
    for image in images:
        size_mb = image.size_bytes / 1e6
        lines.append(f"| {image.function.name} | {image.image} | {size_mb:,.0f} MB | {image.seconds:.1f} s |")
    return "\n".join(lines)
