"""Container engines that build and start the function images: Docker where a daemon answers,
podman (no daemon) everywhere else.

Both build with their own ``build`` command, so a Dockerfile that builds here builds with
``sam build``. Starting an image differs: Docker runs it as a container; podman's ``run`` needs an
OCI runtime that some sandboxes refuse (crun cannot set rlimits there), so :class:`Podman` mounts
the image's file system read-only and starts its entrypoint in a private mount namespace with
``chroot``, as Lambda's user, with a writable ``/tmp`` and the host's network (the local endpoint
and the database on 127.0.0.1 stay reachable).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from cloud_functions.core.errors import ConfigurationError

EngineName = Literal["podman", "docker"]

# Lambda runs functions as an unprivileged user (sbx_user1051: uid 993, gid 990).
LAMBDA_USER = "993:990"
# Where pip installs on the AWS Lambda Python 3.11 image (and on the local stand-in).
SITE_PACKAGES = "/var/lang/lib/python3.11/site-packages"

# Machines behind a TLS-inspecting proxy trust it through the system bundle; pip in a podman
# build is pointed at this machine's bundle, which leaves the image untouched.
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


class ImageError(ConfigurationError):
    """An image could not be built, inspected or started."""


def as_root(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``sudo`` in front unless this process is root."""
    if os.geteuid() == 0:
        return list(argv)
    if shutil.which("sudo") is None:
        raise ImageError(f"{argv[0]} needs root, and sudo is not installed")
    return ["sudo", *argv]


def apt_install(packages: Sequence[str]) -> None:
    """Install Debian packages (apt-get update first), as ``scripts/setup.sh`` does."""
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        completed = subprocess.run(  # noqa: S603 - a fixed apt-get command line
            as_root(argv), env=environment, capture_output=True, text=True, check=False
        )
        if completed.returncode != 0:
            raise ImageError(f"{' '.join(argv)} failed: {completed.stderr.strip()[-2000:]}")


def ensure_commands(commands: Mapping[str, str]) -> None:
    """Install the Debian package of each command (``{"podman": "podman"}``) that is missing."""
    missing = sorted({package for command, package in commands.items() if shutil.which(command) is None})
    if missing:
        if shutil.which("apt-get") is None:
            raise ImageError(f"install {', '.join(missing)}: this machine has no apt-get")
        apt_install(missing)


@dataclass(frozen=True)
class ImageConfig:
    """What an image says about how to start it."""

    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    env: dict[str, str]
    workdir: str
    size_bytes: int

    def argv(self, command: Sequence[str] | None = None) -> list[str]:
        """The process Lambda starts: the entrypoint with ``command`` (ImageConfig.Command) or CMD."""
        return [*self.entrypoint, *(command if command else self.cmd)]


@dataclass
class Started:
    """A started image: its process (the function's runtime) and what to undo when it ends."""

    process: subprocess.Popen[bytes]
    cleanup: list[list[str]] = field(default_factory=list)


class ContainerEngine:
    """A container CLI (``podman`` or ``docker``): build, inspect, import and start images."""

    name: EngineName

    def __init__(self, executable: str) -> None:
        self.executable = executable

    def command(
        self, *args: str, check: bool = True, timeout_s: float | None = None, stdin: IO[bytes] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the CLI with ``args`` and return its output; ``ImageError`` when it fails and ``check``."""
        argv = [self.executable, *args]
        try:
            completed = subprocess.run(  # noqa: S603 - the engine's CLI with arguments built here
                argv, capture_output=True, text=True, check=False, timeout=timeout_s, stdin=stdin
            )
        except subprocess.TimeoutExpired as e:
            raise ImageError(f"{' '.join(argv[:3])} ... took longer than {timeout_s} s") from e
        if check and completed.returncode != 0:
            raise ImageError(f"{' '.join(argv[:4])} ... failed: {completed.stderr.strip()[-2000:]}")
        return completed

    def exists(self, image: str) -> bool:
        """Whether ``image`` is in the local store."""
        return self.command("image", "inspect", image, check=False).returncode == 0

    def config(self, image: str) -> ImageConfig:
        """Entrypoint, CMD, environment, working directory and size of ``image``."""
        [inspected] = json.loads(self.command("image", "inspect", image).stdout)
        config = inspected.get("Config") or {}
        env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
        return ImageConfig(
            entrypoint=tuple(config.get("Entrypoint") or ()),
            cmd=tuple(config.get("Cmd") or ()),
            env=env,
            workdir=config.get("WorkingDir") or "/",
            size_bytes=int(inspected.get("Size") or 0),
        )

    def distributions(self, image: str) -> set[str]:
        """The Python distributions installed in ``image``'s site-packages (normalised names)."""
        return {
            _distribution_name(entry)
            for entry in self.list_dir(image, SITE_PACKAGES)
            if entry.endswith(".dist-info")
        }

    def list_dir(self, image: str, path: str) -> list[str]:
        """The names in a folder of ``image``."""
        listing = self.command("run", "--rm", "--entrypoint", "/bin/ls", image, "-1", path).stdout
        return listing.split()

    def pull(self, image: str, timeout_s: float = 300) -> bool:
        """Pull ``image`` unless it is here; False when the registry cannot be reached."""
        if self.exists(image):
            return True
        try:
            return self.command("pull", image, check=False, timeout_s=timeout_s).returncode == 0
        except ImageError:
            return False

    def import_rootfs(self, tarball: Path, image: str) -> None:
        """Make ``image`` from a root file system tarball."""
        with tarball.open("rb") as stream:
            self.command("import", "-", image, stdin=stream)

    def build_argv(
        self, dockerfile: Path, context: Path, image: str, build_args: Mapping[str, str], extra: Sequence[str]
    ) -> list[str]:
        """The ``build`` command line."""
        argv = [self.executable, "build", "-f", str(dockerfile), "-t", image, *extra]
        for key, value in build_args.items():
            argv += ["--build-arg", f"{key}={value}"]
        return [*argv, str(context)]

    def build(
        self, dockerfile: Path, context: Path, image: str, build_args: Mapping[str, str], log_path: Path
    ) -> str:
        """Build and tag ``image`` and return the built image's id (the tag may move on: another
        checkout on the same machine may build the same name). The engine's output goes to
        ``log_path``; its tail goes into the error."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="classsight-build-") as scratch:
            iidfile = Path(scratch) / "image-id"
            options = ["--iidfile", str(iidfile), *self._build_options(Path(scratch))]
            argv = self.build_argv(dockerfile, context, image, build_args, options)
            with log_path.open("w", encoding="utf-8") as log:
                log.write(" ".join(argv) + "\n")
                log.flush()
                completed = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False)  # noqa: S603
            if completed.returncode == 0:
                return iidfile.read_text(encoding="utf-8").strip()
        tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-25:]
        raise ImageError(f"building {image} failed (log: {log_path}):\n" + "\n".join(tail))

    def _build_options(self, scratch: Path) -> list[str]:
        return []  # the daemon's defaults

    def start(
        self, image: str, argv: Sequence[str], environment: Mapping[str, str], tmp_dir: Path
    ) -> Started:
        """Start ``argv`` (the entrypoint and command) from ``image`` as Lambda would."""
        raise NotImplementedError


class Docker(ContainerEngine):
    """The Docker CLI with a reachable daemon."""

    name: EngineName = "docker"

    def start(
        self, image: str, argv: Sequence[str], environment: Mapping[str, str], tmp_dir: Path
    ) -> Started:
        name = f"classsight-{os.getpid()}-{tmp_dir.name}"
        run = [self.executable, "run", "--rm", "--name", name, "--network", "host", "--read-only"]
        run += ["--user", LAMBDA_USER, "--volume", f"{tmp_dir}:/tmp"]
        # Values travel in this process's environment, never on the command line.
        for key in environment:
            run += ["--env", key]
        entrypoint, *arguments = argv
        run += ["--entrypoint", entrypoint, image, *arguments]
        process = subprocess.Popen(  # noqa: S603 - argv is built here, not from input
            run,
            env={**os.environ, **environment},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return Started(process, cleanup=[[self.executable, "kill", name]])


class Podman(ContainerEngine):
    """podman without a daemon: builds with ``--isolation chroot``, starts images with chroot."""

    name: EngineName = "podman"

    def _build_options(self, scratch: Path) -> list[str]:
        options = ["--isolation", "chroot", "--layers"]
        if SYSTEM_CA_BUNDLE.is_file():
            # pip reads /etc/xdg/pip/pip.conf; the mount is gone once the step ends.
            shutil.copyfile(SYSTEM_CA_BUNDLE, scratch / "ca.crt")
            (scratch / "pip.conf").write_text("[global]\ncert = /etc/xdg/pip/ca.crt\n", encoding="utf-8")
            options += ["--volume", f"{scratch}:/etc/xdg/pip:ro"]
        return options

    def mount(self, image: str) -> Path:
        """Mount ``image``'s file system read-only and return where (``image unmount`` undoes it)."""
        return Path(self.command("image", "mount", image).stdout.strip())

    def list_dir(self, image: str, path: str) -> list[str]:
        root = self.mount(image)
        try:
            return sorted(entry.name for entry in (root / path.lstrip("/")).iterdir())
        finally:
            self.command("image", "unmount", image, check=False)

    def start(
        self, image: str, argv: Sequence[str], environment: Mapping[str, str], tmp_dir: Path
    ) -> Started:
        if os.geteuid() != 0:
            raise ImageError(
                "starting an image without a container runtime needs root (mount namespace, chroot)"
            )
        tools = {tool: shutil.which(tool) for tool in ("unshare", "mount", "chroot")}
        if not all(tools.values()):
            raise ImageError(f"missing {', '.join(t for t, path in tools.items() if not path)} (util-linux)")
        config = self.config(image)
        root = self.mount(image)
        # The image stays read-only; /tmp is the only writable place, as on Lambda. The mounts live in
        # the new mount namespace and vanish with the process.
        script = (
            'set -e; mount="$1"; chroot="$2"; root="$3"; tmp="$4"; workdir="$5"; shift 5; '
            '"$mount" --bind "$tmp" "$root/tmp"; '
            '"$mount" --rbind /dev "$root/dev"; '
            '"$mount" -t proc proc "$root/proc"; '
            f'exec "$chroot" --userspec={LAMBDA_USER} "$root" '
            '/bin/sh -c \'cd "$0" && exec "$@"\' "$workdir" "$@"'
        )
        process = subprocess.Popen(  # noqa: S603 - argv is built here, not from input
            [
                str(tools["unshare"]),
                "--mount",
                "--propagation",
                "private",
                "/bin/sh",
                "-c",
                script,
                "start-image",
                str(tools["mount"]),
                str(tools["chroot"]),
                str(root),
                str(tmp_dir),
                config.workdir,
                *argv,
            ],
            env=dict(environment),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return Started(process, cleanup=[[self.executable, "image", "unmount", image]])


def _distribution_name(dist_info: str) -> str:
    # "tf_keras-2.20.1.dist-info" -> "tf-keras"
    return dist_info.removesuffix(".dist-info").rsplit("-", 1)[0].lower().replace("_", "-")


def docker_daemon_answers() -> bool:
    """Whether a ``docker`` CLI is installed and its daemon answers."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        completed = subprocess.run(  # noqa: S603 - fixed argv
            [docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, check=False, timeout=20
        )
    except subprocess.TimeoutExpired:
        return False
    return completed.returncode == 0


def select_engine(
    preference: Literal["auto", "podman", "docker"] = "auto", *, install: bool = True
) -> ContainerEngine:
    """Docker where its daemon answers (``auto``), else podman, installed with apt when missing."""
    if preference == "docker" or (preference == "auto" and docker_daemon_answers()):
        if not docker_daemon_answers():
            raise ImageError("docker was asked for, but no Docker daemon answers `docker info`")
        return Docker(str(shutil.which("docker")))
    if install:
        ensure_commands({"podman": "podman"})
    podman = shutil.which("podman")
    if podman is None:
        raise ImageError("podman is not installed")
    return Podman(podman)
