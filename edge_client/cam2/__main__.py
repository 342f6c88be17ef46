"""``python -m edge_client.cam2``: the room camera client. Thin: parse, load settings, run."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from edge_client.cam2.app import Cam2Runner
from edge_client.cam2.errors import Cam2Error
from edge_client.cam2.settings import Cam2Settings
from edge_client.cli import CAMERA_FLAGS, Flag, add_settings_flags, run_client, settings_epilog
from edge_client.outbox import OutboxError, UploadError
from edge_client.settings import EdgeConfigurationError
from edge_client.sources import SourceError

logger = logging.getLogger("edge_client.cam2")

# CLI flag -> settings field. Flags not given fall through to env, .env, YAML, defaults.
_FLAGS: list[Flag] = [
    *CAMERA_FLAGS,
    ("--queue-url", "handoff_queue_url", {"metavar": "URL"}),
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


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser; each flag's help is the setting's description."""
    parser = argparse.ArgumentParser(
        prog="python -m edge_client.cam2",
        description=(
            "Room camera: tracks people (YOLO + ByteTrack), tags door entries from the room's "
            "handoff queue, reports presence and serves an annotated MJPEG stream on /stream."
        ),
        epilog=settings_epilog(
            Cam2Settings,
            [
                "The door zone is a list of [x, y] pixel vertices, e.g. in YAML:",
                "  door_zone: [[680, 260], [768, 260], [768, 440], [680, 440]]",
            ],
            "0 done or stopped, 2 bad settings, source or model, 1 other failure.",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_settings_flags(parser, Cam2Settings, _FLAGS)
    parser.add_argument("--max-frames", type=int, default=None, help="Stop after this many frames.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the room camera; return the process exit status."""
    args = build_parser().parse_args(argv)
    return run_client(
        Cam2Settings,
        args,
        _FLAGS,
        lambda settings: Cam2Runner(settings, max_frames=args.max_frames),
        (EdgeConfigurationError, Cam2Error, SourceError, OutboxError, UploadError),
    )


if __name__ == "__main__":
    sys.exit(main())
