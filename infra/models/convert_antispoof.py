"""Convert the MiniFASNet anti-spoofing weights (PyTorch state dicts) to ONNX for onnxruntime.

    python -m infra.models.convert_antispoof [--weights-dir ../shared/models/antispoof] \
        [--out var/models/antispoof] [--force]

Each ``<name>.pth`` becomes ``<name>.onnx`` (input ``input`` [N, 3, H, W] float32 BGR 0-255,
output ``logits`` [N, 3]; class 1 = real face) carrying its own preprocessing in the model
metadata: ``crop_scale`` (how many face-box sizes the crop spans) and ``input_px``, read from the
upstream file-name convention ``<scale>[_<shift_x>_<shift_y>]_<H>x<W>_<arch>.pth``, plus the
sha256 of the source weights, so a converted file is redone when its source changes.

The weights and the architecture are from minivision-ai/Silent-Face-Anti-Spoofing (Apache-2.0);
the licence travels in the ONNX metadata too.

A conversion is checked before it is kept: onnxruntime and PyTorch must agree on the softmax of
a batch of crops to within ``PARITY_TOLERANCE``. Files are written atomically (temporary file,
then rename), so parallel test runs that convert at the same time do not see half a model.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WEIGHTS_DIR = REPO_ROOT.parent / "shared" / "models" / "antispoof"
DEFAULT_OUT_DIR = REPO_ROOT / "var" / "models" / "antispoof"
LICENCE = "Apache-2.0; weights and architecture: github.com/minivision-ai/Silent-Face-Anti-Spoofing"
PARITY_TOLERANCE = 1e-4
OPSET = 17

_NAME = re.compile(r"^(?P<scale>\d+(?:\.\d+)?)(?:_[\d.]+_[\d.]+)?_(?P<h>\d+)x(?P<w>\d+)_(?P<arch>\w+)$")


class ConversionError(Exception):
    """A weights file cannot be converted, or its ONNX file disagrees with PyTorch."""


@dataclass(frozen=True)
class WeightsName:
    """What an upstream weights file name says about the model."""

    crop_scale: float
    input_px: int
    arch: str


def parse_weights_name(path: Path) -> WeightsName:
    """``2.7_80x80_MiniFASNetV2.pth`` -> scale 2.7, 80 px; ``4_0_0_80x80_MiniFASNetV1SE.pth`` -> 4.0."""
    match = _NAME.match(path.stem)
    if match is None:
        raise ConversionError(f"{path.name}: expected <scale>_<H>x<W>_<arch>.pth")
    if match["h"] != match["w"]:
        raise ConversionError(f"{path.name}: only square inputs are supported")
    return WeightsName(float(match["scale"]), int(match["h"]), match["arch"])


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _onnx_source_sha(onnx_path: Path) -> str | None:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except Exception:
        return None
    return session.get_modelmeta().custom_metadata_map.get("source_sha256")


def _parity_batch(input_px: int) -> np.ndarray:
    """Deterministic crops with image-like structure (smooth gradients plus texture), 0-255."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.0, 255.0, input_px, dtype=np.float32)
    smooth = (ramp[None, :] + ramp[:, None]) / 2.0
    batch = np.stack([smooth, smooth[::-1], smooth.T])[None].repeat(4, axis=0)
    batch = batch + rng.normal(0.0, 25.0, batch.shape).astype(np.float32)
    return np.clip(batch, 0.0, 255.0).astype(np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def convert(weights_path: Path, onnx_path: Path) -> Path:
    """Export one state dict to ONNX at ``onnx_path`` (atomic), after checking parity with PyTorch."""
    import onnx
    import onnxruntime as ort
    import torch

    from infra.models import minifasnet

    name = parse_weights_name(weights_path)
    try:
        model = minifasnet.load(weights_path)
    except (OSError, RuntimeError, ValueError) as e:
        raise ConversionError(f"cannot load {weights_path}: {e}") from e

    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        exported = Path(scratch) / "model.onnx"
        # The TorchScript exporter is deprecated in favour of torch.export, which needs
        # onnxscript; this fixed-shape convolutional network exports the same either way.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, name.input_px, name.input_px),),
            exported,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
        proto = onnx.load(exported)
    for key, value in {
        "crop_scale": f"{name.crop_scale:g}",
        "input_px": str(name.input_px),
        "arch": name.arch,
        "source_file": weights_path.name,
        "source_sha256": sha256_of(weights_path),
        "real_class": str(minifasnet.REAL_CLASS),
        "licence": LICENCE,
    }.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    serialized = proto.SerializeToString()

    batch = _parity_batch(name.input_px)
    with torch.no_grad():
        expected = softmax(model(torch.from_numpy(batch)).numpy())
    session = ort.InferenceSession(serialized, providers=["CPUExecutionProvider"])
    got = softmax(session.run(None, {"input": batch})[0])
    worst = float(np.abs(expected - got).max())
    if worst > PARITY_TOLERANCE:
        raise ConversionError(f"{weights_path.name}: ONNX and PyTorch differ by {worst:.2e}")

    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=onnx_path.parent, prefix=f".{onnx_path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(serialized)
        os.chmod(tmp, 0o644)
        os.replace(tmp, onnx_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("converted %s -> %s (max softmax difference %.1e)", weights_path.name, onnx_path, worst)
    return onnx_path


def ensure_converted(
    weights_dir: Path = DEFAULT_WEIGHTS_DIR, out_dir: Path = DEFAULT_OUT_DIR, *, force: bool = False
) -> list[Path]:
    """The ONNX file of every ``*.pth`` in ``weights_dir``, converting only those missing or stale."""
    sources = sorted(weights_dir.glob("*.pth"))
    if not sources:
        raise ConversionError(f"no .pth weights in {weights_dir}")
    converted = []
    for source in sources:
        target = out_dir / f"{source.stem}.onnx"
        if force or not target.is_file() or _onnx_source_sha(target) != sha256_of(source):
            convert(source, target)
        converted.append(target)
    return converted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights-dir", type=Path, default=DEFAULT_WEIGHTS_DIR, help="folder of .pth files")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="folder for the .onnx files")
    parser.add_argument("--force", action="store_true", help="convert even when up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        paths = ensure_converted(args.weights_dir, args.out, force=args.force)
    except ConversionError as e:
        logger.error("%s", e)
        return 1
    for path in paths:
        logger.info("%s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
