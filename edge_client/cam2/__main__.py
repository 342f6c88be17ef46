"""``python -m edge_client.cam2``: the room camera client. Thin: parse, load settings, run."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from edge_client.cam2.app import Cam2Runner
from edge_client.cam2.errors import Cam2Error
from edge_client.cam2.settings import Cam2Settings
from edge_client.outbox import OutboxError, UploadError
from edge_client.settings import CONFIG_FILE_ENV, ENV_PREFIX, EdgeConfigurationError, load_edge_settings
from edge_client.sources import SourceError

logger = logging.getLogger("edge_client.cam2")

# CLI flag -> settings field. Flags not given fall through to env, .env, YAML, defaults.
_FLAGS: list[tuple[str, str, dict[str, Any]]] = [
    ("--source", "source", {"metavar": "SPEC"}),
    ("--room", "room_id", {"metavar": "ROOM_ID"}),
    ("--camera", "camera_id", {"metavar": "CAMERA_ID"}),
    ("--bucket", "bucket_name", {"metavar": "NAME"}),
    ("--endpoint-url", "aws_endpoint_url", {"metavar": "URL"}),
    ("--region", "aws_region", {}),
    ("--queue-url", "handoff_queue_url", {"metavar": "URL"}),
    ("--fps", "source_fps", {"type": float}),
    ("--realtime", "realtime", {"action": argparse.BooleanOptionalAction}),
    ("--weights", "person_weights_path", {"type": Path, "metavar": "PATH"}),
    ("--imgsz", "person_imgsz", {"type": int}),
    ("--confidence", "person_confidence", {"type": float}),
    ("--walk-delay-s", "walk_delay_s", {"type": float}),
    ("--presence-interval-s", "presence_interval_s", {"type": float}),
    ("--outbox", "outbox_path", {"type": Path, "metavar": "SQLITE"}),
    ("--stream", "stream_enabled", {"action": argparse.BooleanOptionalAction}),
    ("--stream-host", "stream_host", {}),
    ("--stream-port", "stream_port", {"type": int}),
    ("--window", "show_window", {"action": argparse.BooleanOptionalAction}),
]


def _settings_epilog() -> str:
    lines = [
        "Every setting can also come from the environment "
        f"({ENV_PREFIX}<NAME>), a .env file, or the YAML file given by --config / ${CONFIG_FILE_ENV}.",
        "The door zone is a list of [x, y] pixel vertices, e.g. in YAML:",
        "  door_zone: [[680, 260], [768, 260], [768, 440], [680, 440]]",
        "",
        "settings:",
    ]
    for name, field in Cam2Settings.model_fields.items():
        default = "required" if field.is_required() else f"default {field.default}"
        lines.append(f"  {name} ({ENV_PREFIX}{name.upper()}; {default})")
        lines.append(f"      {field.description}")
    lines += ["", "exit status: 0 done or stopped, 2 bad settings, source or model, 1 other failure."]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser; each flag's help is the setting's description."""
    parser = argparse.ArgumentParser(
        prog="python -m edge_client.cam2",
        description=(
            "Room camera: tracks people (YOLO + ByteTrack), tags door entries from the room's "
            "handoff queue, reports presence and serves an annotated MJPEG stream on /stream."
        ),
        epilog=_settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", type=Path, metavar="YAML", help=f"YAML settings (default: ${CONFIG_FILE_ENV})."
    )
    for flag, field_name, extra in _FLAGS:
        field = Cam2Settings.model_fields[field_name]
        default = "required" if field.is_required() else f"default {field.default}"
        parser.add_argument(
            flag,
            dest=field_name,
            default=None,
            help=f"{field.description} [{field_name}; {default}]",
            **extra,
        )
    parser.add_argument("--max-frames", type=int, default=None, help="Stop after this many frames.")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="Logging verbosity.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the room camera; return the process exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {field_name: getattr(args, field_name) for _, field_name, _ in _FLAGS}
    try:
        settings = load_edge_settings(Cam2Settings, args.config, **overrides)
        runner = Cam2Runner(settings)
    except (EdgeConfigurationError, Cam2Error, OutboxError, UploadError) as e:
        logger.error("%s", e)
        return 2

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %d: stopping", signum)
        runner.request_stop()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        summary = runner.run(args.max_frames)
    except SourceError as e:
        logger.error("%s", e)
        return 2
    logger.info(
        "done: %s",
        json.dumps(
            {
                "frames": summary.frames,
                "fps": round(summary.fps, 2),
                "handoffs_applied": summary.handoffs_applied,
                "handoffs_expired": summary.handoffs_expired,
            }
        ),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
