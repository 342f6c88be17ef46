"""The base of the function images: the AWS Lambda Python 3.11 image, or a local stand-in for it.

The stand-in (``infra/docker/local-base/``) is built FROM a Debian bookworm root file system with
Python 3.11, made by ``debootstrap --variant=minbase`` and imported into the container engine.
Both images are tagged with a digest of their recipe, so they are made once, reused by later
builds, and made again only when the recipe changes.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from infra.images.engine import ContainerEngine, ImageError, as_root, ensure_commands
from infra.local_stack.template import REPO_ROOT

AWS_BASE_IMAGE = "public.ecr.aws/lambda/python:3.11"
LOCAL_BASE_DIR = REPO_ROOT / "infra" / "docker" / "local-base"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# Python 3.11 as on the AWS image, the venv module (pip comes with it) and the CA certificates.
ROOTFS_PACKAGES = ("python3.11", "python3.11-venv", "python3-distutils", "ca-certificates")

BaseChoice = Literal["auto", "aws", "local"]
Log = Callable[[str], None]


@dataclass(frozen=True)
class BaseImage:
    """The base the function images are built FROM."""

    image: str
    kind: Literal["aws", "local"]
    reused: bool
    seconds: float
    """Time spent pulling or making it in this run."""

    def describe(self) -> str:
        """One line for the build report."""
        what = "the AWS Lambda base" if self.kind == "aws" else "the local stand-in for the AWS Lambda base"
        how = "reused" if self.reused else f"made in {self.seconds:.1f} s"
        return f"{self.image} ({what}, {how})"


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:12]


def rootfs_tag() -> str:
    """The tag of the Debian root file system image for the current recipe."""
    recipe = _digest(DEBIAN_SUITE.encode(), b"minbase", ",".join(ROOTFS_PACKAGES).encode())
    return f"localhost/classsight-debian-rootfs:{DEBIAN_SUITE}-{recipe}"


def local_base_tag() -> str:
    """The tag of the local stand-in base for the current recipe (its folder and the root file system)."""
    files = sorted(p for p in LOCAL_BASE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    parts = [rootfs_tag().encode()]
    for path in files:
        parts += [str(path.relative_to(LOCAL_BASE_DIR)).encode(), path.read_bytes()]
    return f"localhost/classsight-lambda-python:3.11-{_digest(*parts)}"


def resolve_base(
    engine: ContainerEngine,
    choice: BaseChoice = "auto",
    *,
    mirror: str = DEBIAN_MIRROR,
    log_dir: Path,
    log: Log = print,
) -> BaseImage:
    """The AWS base if it can be pulled (``auto``, ``aws``), else the local stand-in (``auto``, ``local``)."""
    if choice in ("auto", "aws"):
        started = time.monotonic()
        present = engine.exists(AWS_BASE_IMAGE)
        if present or engine.pull(AWS_BASE_IMAGE, timeout_s=600):
            return BaseImage(AWS_BASE_IMAGE, "aws", present, time.monotonic() - started)
        if choice == "aws":
            raise ImageError(f"cannot pull {AWS_BASE_IMAGE}; --base local builds on a stand-in")
        log(f"{AWS_BASE_IMAGE} cannot be pulled here: building on the local stand-in")
    return local_base(engine, mirror=mirror, log_dir=log_dir, log=log)


def local_base(
    engine: ContainerEngine, *, mirror: str = DEBIAN_MIRROR, log_dir: Path, log: Log = print
) -> BaseImage:
    """The local stand-in for the AWS Lambda Python 3.11 image, made when missing."""
    tag = local_base_tag()
    if engine.exists(tag):
        return BaseImage(tag, "local", True, 0.0)
    started = time.monotonic()
    rootfs = rootfs_image(engine, mirror=mirror, log=log)
    log(f"building {tag} from {LOCAL_BASE_DIR.relative_to(REPO_ROOT)}/")
    engine.build(
        LOCAL_BASE_DIR / "Dockerfile", LOCAL_BASE_DIR, tag, {"ROOTFS_IMAGE": rootfs}, log_dir / "base.log"
    )
    return BaseImage(tag, "local", False, time.monotonic() - started)


def rootfs_image(engine: ContainerEngine, *, mirror: str = DEBIAN_MIRROR, log: Log = print) -> str:
    """The Debian root file system with Python 3.11 as an image, made with debootstrap when missing."""
    tag = rootfs_tag()
    if engine.exists(tag):
        return tag
    ensure_commands({"debootstrap": "debootstrap"})
    log(f"making a Debian {DEBIAN_SUITE} root file system with {', '.join(ROOTFS_PACKAGES)} (debootstrap)")
    scratch = Path(tempfile.mkdtemp(prefix="classsight-rootfs-", dir="/var/tmp"))
    root, tarball = scratch / "root", scratch / "rootfs.tar"
    try:
        _run_as_root(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(ROOTFS_PACKAGES)}",
                DEBIAN_SUITE,
                str(root),
                mirror,
            ]
        )
        # Downloaded packages, package lists and debootstrap's own files are no part of the image.
        _run_as_root(
            [
                "sh",
                "-c",
                'rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/debootstrap',
                "clean",
                str(root),
            ]
        )
        _run_as_root(
            ["tar", "--numeric-owner", "--exclude=./dev/*", "-C", str(root), "-cf", str(tarball), "."]
        )
        engine.import_rootfs(tarball, tag)
    finally:
        _run_as_root(["rm", "-rf", str(scratch)])
    return tag


def _run_as_root(argv: list[str]) -> None:
    completed = subprocess.run(as_root(argv), capture_output=True, text=True, check=False)  # noqa: S603
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip()[-3000:]
        raise ImageError(f"{argv[0]} failed:\n{output}")
