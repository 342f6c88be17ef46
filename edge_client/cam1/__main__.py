"""``python -m edge_client.cam1``: the doorway camera client. Thin: parse, load settings, run."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from edge_client.cam1.app import Cam1Runner
from edge_client.cam1.detector import DetectorError
from edge_client.cam1.preview import PreviewError
from edge_client.cli import (
    Flag,
    add_settings_flags,
    configure_logging,
    flag_overrides,
    settings_epilog,
    stop_on_signals,
)
from edge_client.outbox import OutboxError, UploadError
from edge_client.settings import (
    Cam1Settings,
    EdgeConfigurationError,
    load_edge_settings,
)
from edge_client.sources import SourceError

logger = logging.getLogger("edge_client.cam1")

# CLI flag -> settings field. Flags not given fall through to env, .env, YAML, defaults.
_FLAGS: list[Flag] = [
    ("--source", "source", {"metavar": "SPEC"}),
    ("--room", "room_id", {"metavar": "ROOM_ID"}),
    ("--camera", "camera_id", {"metavar": "CAMERA_ID"}),
    ("--bucket", "bucket_name", {"metavar": "NAME"}),
    ("--endpoint-url", "aws_endpoint_url", {"metavar": "URL"}),
    ("--region", "aws_region", {}),
    ("--fps", "source_fps", {"type": float}),
    ("--realtime", "realtime", {"action": argparse.BooleanOptionalAction}),
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
    configure_logging(args.log_level)
    overrides = flag_overrides(args, _FLAGS)
    try:
        settings = load_edge_settings(Cam1Settings, args.config, **overrides)
        runner = Cam1Runner(settings, drain_on_exit_s=args.drain_s)
    except (EdgeConfigurationError, SourceError, DetectorError, OutboxError, PreviewError, UploadError) as e:
        logger.error("%s", e)
        return 2

    stop_on_signals(runner.request_stop)
    try:
        summary = runner.run()
    except SourceError as e:
        logger.error("%s", e)
        return 2
    print(
        f"frames {summary.frames}  fps {summary.fps:.1f}  captures {summary.captures}  "
        f"uploaded {summary.uploaded}  pending {summary.pending}  dropped {summary.dropped}"
        + ("  (stopped)" if summary.stopped else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
