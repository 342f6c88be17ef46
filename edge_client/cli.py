"""What the edge clients' command lines share: flags mapped to settings, help built from the
settings' descriptions, logging, a clean stop on SIGINT/SIGTERM, and the run itself
(``run_client``: load settings, build the runner, run, print the summary, exit status)."""

from __future__ import annotations

import argparse
import logging
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TypeVar

from pydantic_settings import BaseSettings

from edge_client.settings import CONFIG_FILE_ENV, ENV_PREFIX, EdgeSettings, load_edge_settings
from edge_client.sources import SourceError

Flag = tuple[str, str, dict[str, Any]]
"""(command-line flag, settings field, extra ``add_argument`` options)."""

# The flags of every camera client: which room and camera, where to upload, the frame source.
CAMERA_FLAGS: list[Flag] = [
    ("--source", "source", {"metavar": "SPEC"}),
    ("--room", "room_id", {"metavar": "ROOM_ID"}),
    ("--camera", "camera_id", {"metavar": "CAMERA_ID"}),
    ("--bucket", "bucket_name", {"metavar": "NAME"}),
    ("--endpoint-url", "aws_endpoint_url", {"metavar": "URL"}),
    ("--region", "aws_region", {}),
    ("--fps", "source_fps", {"type": float}),
    ("--realtime", "realtime", {"action": argparse.BooleanOptionalAction}),
]

logger = logging.getLogger("edge_client")


def settings_epilog(settings_cls: type[BaseSettings], notes: Sequence[str], exit_statuses: str) -> str:
    """``--help``'s epilog: where settings come from, then every setting with its variable and meaning."""
    lines = [
        "Every setting (flag or not) can also come from the environment "
        f"({ENV_PREFIX}<NAME>), a .env file, or the YAML file given by --config / ${CONFIG_FILE_ENV}",
        "(keys are the names below). Priority: flag > environment > .env > YAML > default.",
        *notes,
        "",
        "settings:",
    ]
    for name, field in settings_cls.model_fields.items():
        default = "required" if field.is_required() else f"default {field.default}"
        lines.append(f"  {name} ({ENV_PREFIX}{name.upper()}; {default})")
        lines.append(f"      {field.description}")
    lines += ["", f"exit status: {exit_statuses}"]
    return "\n".join(lines)


def add_settings_flags(
    parser: argparse.ArgumentParser, settings_cls: type[BaseSettings], flags: Sequence[Flag]
) -> None:
    """``--config``, ``--log-level`` and one flag per entry of ``flags`` (help: the setting's description)."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="YAML",
        help=f"YAML settings file (default: ${CONFIG_FILE_ENV} if set).",
    )
    for flag, field_name, extra in flags:
        field = settings_cls.model_fields[field_name]
        default = "required" if field.is_required() else f"default {field.default}"
        parser.add_argument(
            flag,
            dest=field_name,
            default=None,
            help=f"{field.description} [{field_name}; {default}]",
            **extra,
        )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="Logging verbosity.",
    )


def flag_overrides(args: argparse.Namespace, flags: Sequence[Flag]) -> dict[str, Any]:
    """The settings given on the command line (``None`` for flags not given, which fall through)."""
    return {field_name: getattr(args, field_name) for _, field_name, _ in flags}


def configure_logging(level: str) -> None:
    """One log format for the edge clients."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def stop_on_signals(request_stop: Callable[[], None]) -> None:
    """Call ``request_stop`` on SIGINT or SIGTERM, so the client shuts down cleanly."""

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("%s received; stopping", signal.Signals(signum).name)
        request_stop()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


class RunSummary(Protocol):
    """What a client's run did, as one line for its operator."""

    def line(self) -> str: ...


class Runner(Protocol):
    """A client process: runs until its source ends or it is asked to stop."""

    def request_stop(self) -> None: ...

    def run(self) -> RunSummary: ...


S = TypeVar("S", bound=EdgeSettings)


def run_client(
    settings_cls: type[S],
    args: argparse.Namespace,
    flags: Sequence[Flag],
    build: Callable[[S], Runner],
    startup_errors: tuple[type[Exception], ...],
) -> int:
    """Load the settings (flags > env > .env > YAML), build the runner, run it, print its summary.

    Returns the exit status: 0 done or stopped, 2 bad settings, source or model (``startup_errors``
    while building, ``SourceError`` while running). Other failures propagate (status 1).
    """
    configure_logging(args.log_level)
    try:
        settings = load_edge_settings(settings_cls, args.config, **flag_overrides(args, flags))
        runner = build(settings)
    except startup_errors as e:
        logger.error("%s", e)
        return 2
    stop_on_signals(runner.request_stop)
    try:
        summary = runner.run()
    except SourceError as e:
        logger.error("%s", e)
        return 2
    print(summary.line(), flush=True)
    return 0
