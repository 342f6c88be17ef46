"""Cold and warm starts of each function image, beside the same handler run in-process.

    .venv/bin/python bench/function_images.py [--function face_match ...] [--runs 3] [--skip-deepface]
                                              [--mysql-url mysql+pymysql://root@127.0.0.1:3306/]

For each image function, its image (built if missing or stale; layers are reused) is started as
Lambda starts it (entrypoint with ImageConfig.Command, read-only, Lambda's user, no internet) and
gets its tests/events sample, staged on a local stack and a fresh MariaDB database:

- init: process start to the runtime's first poll for an event (interpreter, runtime interface
  client, handler import): Lambda's Init Duration;
- first: the first invocation (the handler builds its models and clients, then the sample);
- warm: the same event again (a redelivery: the idempotent path).

Then the same handler in a fresh interpreter of this machine's .venv, imported and called
in-process as the local stack calls it (init: process start to the handler imported). Each figure
is the median of ``--runs`` cold starts. The face_match image is also run with the production
embedder (DeepFace ArcFace, stand-in weights baked in) unless ``--skip-deepface``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from cloud_functions.core.db.engine import create_engine  # noqa: E402
from cloud_functions.core.settings import DEFAULT_MODELS_DIR  # noqa: E402
from infra.images.base import resolve_base  # noqa: E402
from infra.images.build import LOG_DIR, BuiltImage, build_function_image, stage_models  # noqa: E402
from infra.images.engine import ContainerEngine, select_engine  # noqa: E402
from infra.images.functions import select_functions  # noqa: E402
from infra.images.machine import machine_summary  # noqa: E402
from infra.images.samples import (  # noqa: E402
    SAMPLE_ENVIRONMENT,
    SAMPLES,
    DeepFaceStandInSample,
    FunctionSample,
    SampleWorld,
    build_deepface_standin_image,
    deepface_standin_weights,
    production_face_parameters,
    run_sample_in_image,
    sample_parameter_overrides,
)
from infra.local_stack import LocalStack, MotoEndpoint, local_parameter_overrides  # noqa: E402
from infra.local_stack.template import load_template_document  # noqa: E402
from infra.migrations import upgrade  # noqa: E402

DATA_DIR = DEFAULT_MODELS_DIR.parent / "data"
IMAGE_MODELS_DIR = str(load_template_document()["Parameters"]["ModelsDir"]["Default"])

# A fresh interpreter: import the handler, call it with the event twice, report the times.
IN_PROCESS = """
import json, sys, time
module, _, name = sys.argv[1].rpartition(".")
handler = getattr(__import__("importlib").import_module(module), name)
imported = time.time()
from infra.local_stack.poller import LambdaContext, invocation_event_loop
event = json.load(open(sys.argv[2]))
durations, results = [], []
arn = "arn:aws:lambda:us-east-1:123456789012:function:" + sys.argv[3]
for _ in range(2):
    context = LambdaContext(sys.argv[3], arn, 2048, 60)
    started = time.perf_counter()
    with invocation_event_loop():
        results.append(handler(event, context))
    durations.append(time.perf_counter() - started)
print(json.dumps({"imported": imported, "durations": durations, "results": results}))
"""


@dataclass
class Figures:
    init_s: list[float] = field(default_factory=list)
    first_s: list[float] = field(default_factory=list)
    warm_s: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)

    def cells(self) -> list[str]:
        return [f"{statistics.median(v) * 1000:,.0f} ms" for v in (self.init_s, self.first_s, self.warm_s)]


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    name = f"classsight_bench_{uuid.uuid4().hex[:10]}"
    server = sa.create_engine(server_url)
    with server.begin() as connection:
        connection.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with server.begin() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


def staged(stack: LocalStack, sample: FunctionSample, url: str) -> SampleWorld:
    world = SampleWorld(stack, create_engine(url), DATA_DIR, DEFAULT_MODELS_DIR)
    sample.stage(world)
    return world


def in_image(
    engine: ContainerEngine,
    image: str,
    stack: LocalStack,
    sample: FunctionSample,
    server_url: str,
    figures: Figures,
) -> str:
    with fresh_database(server_url) as url:
        run = run_sample_in_image(
            engine, image, stack, sample, url, data_dir=DATA_DIR, models_dir=DEFAULT_MODELS_DIR
        )
    run.again.result()
    if run.container.tmp_files:
        raise SystemExit(f"{sample.logical_id} left files in /tmp: {run.container.tmp_files}")
    assert run.container.init_s is not None
    figures.init_s.append(run.container.init_s)
    figures.first_s.append(run.first.duration_s)
    figures.warm_s.append(run.again.duration_s)
    figures.peak_rss_mb.append((run.container.peak_rss_bytes or 0) / 1e6)
    return run.outcome


def in_process(
    stack: LocalStack, sample: FunctionSample, server_url: str, figures: Figures, **overrides: str
) -> None:
    with fresh_database(server_url) as url, tempfile.TemporaryDirectory() as scratch:
        world = staged(stack, sample, url)
        environment = {
            key: value.replace(IMAGE_MODELS_DIR, str(DEFAULT_MODELS_DIR))
            for key, value in stack.env(
                sample.logical_id, CLASSSIGHT_DATABASE_URL=url, **SAMPLE_ENVIRONMENT, **overrides
            ).items()
        }
        event_path = Path(scratch) / "event.json"
        event_path.write_text(json.dumps(sample.event()), encoding="utf-8")
        function = stack.functions[sample.logical_id]
        spawned = time.time()
        completed = subprocess.run(
            [
                sys.executable,
                "-c",
                IN_PROCESS,
                function.handler_path,
                str(event_path),
                function.function_name,
            ],
            env={**os.environ, **environment, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise SystemExit(f"{sample.logical_id} in-process failed:\n{completed.stderr[-3000:]}")
        report = json.loads(completed.stdout.strip().splitlines()[-1])
        sample.check(world, report["results"][0])
        world.engine.dispose()
    figures.init_s.append(report["imported"] - spawned)
    figures.first_s.append(report["durations"][0])
    figures.warm_s.append(report["durations"][1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--function", action="append", dest="functions", help="short name or logical id; repeat"
    )
    parser.add_argument("--runs", type=int, default=3, help="cold starts per function and place (default 3)")
    parser.add_argument("--skip-deepface", action="store_true", help="skip face_match with DeepFace ArcFace")
    parser.add_argument(
        "--mysql-url",
        default="mysql+pymysql://root@127.0.0.1:3306/",
        help="MariaDB/MySQL server for the samples",
    )
    args = parser.parse_args()

    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    functions = select_functions(args.functions)
    engine = select_engine()
    base = resolve_base(engine, "auto", log_dir=LOG_DIR)
    stage_models()
    images: dict[str, BuiltImage] = {
        f.logical_id: build_function_image(engine, f, base, embedder_weights="settings") for f in functions
    }
    print(f"engine: {engine.command('--version').stdout.strip()}; base: {base.describe()}")

    rows: list[str] = []
    with MotoEndpoint() as endpoint:
        database_url = "sqlite://"  # each run gets its own database through CLASSSIGHT_DATABASE_URL
        overrides = {"ModelsDir": IMAGE_MODELS_DIR, **sample_parameter_overrides()}
        stack = LocalStack.provision(
            endpoint.endpoint_url,
            parameter_overrides=local_parameter_overrides(database_url, stage="bench", **overrides),
            stack_name="classsight-bench",
        )
        runs: list[tuple[str, BuiltImage, LocalStack, FunctionSample, dict[str, str]]] = [
            (f.name, images[f.logical_id], stack, SAMPLES[f.logical_id], {}) for f in functions
        ]
        if not args.skip_deepface and any(f.logical_id == "FaceMatchFunction" for f in functions):
            weights = deepface_standin_weights()
            deepface_stack = LocalStack.provision(
                endpoint.endpoint_url,
                parameter_overrides=local_parameter_overrides(
                    database_url, stage="benchdf", **overrides, **production_face_parameters()
                ),
                stack_name="classsight-benchdf",
            )
            runs.append(
                (
                    "face_match, DeepFace ArcFace",
                    build_deepface_standin_image(engine, base),
                    deepface_stack,
                    DeepFaceStandInSample(weights),
                    {"CLASSSIGHT_FACE_EMBEDDER_PATH": str(weights)},
                )
            )
        for name, image, run_stack, sample, host_overrides in runs:
            inside, outside = Figures(), Figures()
            for _ in range(args.runs):
                outcome = in_image(engine, image.image_id, run_stack, sample, args.mysql_url, inside)
                in_process(run_stack, sample, args.mysql_url, outside, **host_overrides)
            memory = run_stack.functions[sample.logical_id].memory_mb
            rss = f"{statistics.median(inside.peak_rss_mb):,.0f} / {memory:,} MB"
            rows.append(
                f"| {name} | {image.size_bytes / 1e6:,.0f} MB | {rss} | "
                + " | ".join(inside.cells() + outside.cells())
                + " |"
            )
            print(f"{name}: {outcome}")

    print(f"\nmachine: {machine_summary()}; median of {args.runs} cold starts each\n")
    print(
        "| function | image | peak RSS / memory | image: init | image: first | image: warm "
        "| in-process: init | in-process: first | in-process: warm |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
