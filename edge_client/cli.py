"""What the edge clients' command lines share: flags mapped to settings, help built from the
settings' descriptions, logging, and a clean stop on SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from pydantic_settings import BaseSettings

from edge_client.settings import CONFIG_FILE_ENV, ENV_PREFIX

Flag = tuple[str, str, dict[str, Any]]
"""(command-line flag, settings field, extra ``add_argument`` options)."""

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
