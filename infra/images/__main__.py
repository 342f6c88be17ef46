"""Build the function images on this machine, as ``sam build`` would.

    python -m infra.images build [--function face_match ...] [--engine auto|podman|docker]
                                 [--base auto|aws|local] [--embedder-weights auto|deepface|settings]
    python -m infra.images models      # only put the weights into build/models/ (before `sam build`)

``build`` puts the weights the settings name into ``build/models/``, finds a container engine
(Docker where its daemon answers, else podman, installed with apt when missing), finds the base
(the AWS Lambda Python 3.11 image where it can be pulled, else a local stand-in made once and
reused), builds each function's Dockerfile from template.yaml and prints each image's size and
build time.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Literal, cast

from cloud_functions.core.errors import ConfigurationError
from infra.images.base import DEBIAN_MIRROR, BaseChoice, resolve_base
from infra.images.build import (
    LOG_DIR,
    MODELS_DIR,
    EmbedderWeights,
    build_function_images,
    build_table,
    stage_models,
)
from infra.images.engine import select_engine
from infra.images.functions import select_functions
from infra.images.machine import machine_summary
from infra.local_stack.template import REPO_ROOT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra.images",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the function images")
    build.add_argument(
        "--function",
        action="append",
        dest="functions",
        metavar="NAME",
        help="a function by short name (face_match) or logical id (FaceMatchFunction); repeat; default all",
    )
    build.add_argument("--engine", choices=["auto", "podman", "docker"], default="auto")
    build.add_argument(
        "--base",
        choices=["auto", "aws", "local"],
        default="auto",
        help="the AWS Lambda Python 3.11 image, or the local stand-in (auto: AWS when it can be pulled)",
    )
    build.add_argument(
        "--embedder-weights",
        choices=["auto", "deepface", "settings"],
        default="auto",
        help=(
            "face embedder weights in the face images: DeepFace's ArcFace downloaded at build time, or the "
            "file the settings name (auto: DeepFace's with the AWS base, the settings' with the local one)"
        ),
    )
    build.add_argument(
        "--debian-mirror", default=DEBIAN_MIRROR, help="mirror for the local stand-in's debootstrap"
    )
    commands.add_parser("models", help="put the weights the settings name into build/models/")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        staged = stage_models()
        print(
            f"weights in {MODELS_DIR.relative_to(REPO_ROOT)}/: "
            + ", ".join(str(path.relative_to(MODELS_DIR)) for path in staged)
        )
        if args.command == "models":
            return 0
        functions = select_functions(args.functions)
        started = time.monotonic()
        engine = select_engine(cast(Literal["auto", "podman", "docker"], args.engine))
        print(f"engine: {engine.command('--version').stdout.strip()}")
        print(f"machine: {machine_summary()}")
        base = resolve_base(engine, cast(BaseChoice, args.base), mirror=args.debian_mirror, log_dir=LOG_DIR)
        print(f"base: {base.describe()}")
        weights: EmbedderWeights = (
            ("deepface" if base.kind == "aws" else "settings")
            if args.embedder_weights == "auto"
            else cast(EmbedderWeights, args.embedder_weights)
        )
        print(
            "face embedder weights: "
            + (
                "DeepFace's ArcFace, downloaded at build time"
                if weights == "deepface"
                else "build/models/face/"
            )
        )
        images = build_function_images(engine, functions, base, embedder_weights=weights)
        print()
        print(build_table(images))
        seconds = time.monotonic() - started
        print(f"\n{len(images)} image(s) in {seconds:.1f} s; build logs in {LOG_DIR.relative_to(REPO_ROOT)}/")
    except ConfigurationError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
