"""``python -m edge_client.cam1``: the doorway camera client. Thin: parse, load settings, run."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from edge_client.cam1.app import Cam1Runner
from edge_client.cam1.errors import Cam1Error
from edge_client.cam1.settings import Cam1Settings
from edge_client.cli import CAMERA_FLAGS, Flag, add_settings_flags, run_client, settings_epilog
from edge_client.outbox import OutboxError, UploadError
from edge_client.settings import EdgeConfigurationError
from edge_client.sources import SourceError
from vision.faces import DetectorError

logger = logging.getLogger("edge_client.cam1")

# CLI flag -> settings field. Flags not given fall through to env, .env, YAML, defaults.
_FLAGS: list[Flag] = [
    *CAMERA_FLAGS,
    ("--detector", "face_detector", {"choices": ["yunet", "haar"]}),
    ("--detector-path", "face_detector_path", {"type": Path, "metavar": "ONNX"}),
    ("--haar-cascade", "haar_cascade_path", {"type": Path, "metavar": "XML"}),
    ("--stable-s", "stable_s", {"type": float}),
    ("--cooldown-s", "cooldown_s", {"type": float}),
    ("--min-face-px", "min_face_px", {"type": int}),
    ("--min-sharpness", "min_sharpness", {"type": float}),
    ("--outbox", "outbox_path", {"type": Path, "metavar": "SQLITE"}),
    ("--outbox-max-items", "outbox_max_items", {"type": int}),
    ("--preview", "preview", {"choices": ["none", "web", "window"]}),
    ("--preview-host", "preview_host", {}),
    ("--preview-port", "preview_port", {"type": int}),
]


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser; each flag's help is the setting's description."""
    parser = argparse.ArgumentParser(
        prog="python -m edge_client.cam1",
        description=(
            "Doorway camera: waits until one face is stable, crops it and uploads it to "
            "captures/faces/<room_id>/<date>/<capture_id>.jpg through a durable SQLite outbox."
        ),
        epilog=settings_epilog(
            Cam1Settings, [], "0 done or stopped, 2 bad settings or source, 1 other failure."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_settings_flags(parser, Cam1Settings, _FLAGS)
    parser.add_argument(
        "--drain-s",
        type=float,
        default=5.0,
        help="On exit, wait up to this long for pending uploads (the rest resume on the next start).",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the doorway client; return the process exit status."""
    args = build_parser().parse_args(argv)
    return run_client(
        Cam1Settings,
        args,
        _FLAGS,
        lambda settings: Cam1Runner(settings, drain_on_exit_s=args.drain_s),
        (EdgeConfigurationError, Cam1Error, SourceError, DetectorError, OutboxError, UploadError),
    )


if __name__ == "__main__":
    sys.exit(main())
