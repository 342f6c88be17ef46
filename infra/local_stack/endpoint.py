"""The local AWS-compatible endpoint: a moto server in a child process, bound to 127.0.0.1.

A child process rather than moto's in-process ``ThreadedMotoServer``: moto keeps its state in
module-level backends, and any ``moto.mock_aws`` used elsewhere in the same process resets them
on exit (and intercepts botocore while active). In a child the endpoint's state belongs to the
endpoint alone, it does not compete for the test process's GIL, and stopping it is one signal.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from cloud_functions.core.errors import ConfigurationError

logger = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"
_MOTO_SERVER = Path(__file__).with_name("moto_server.py")


class EndpointError(ConfigurationError):
    """The local endpoint could not start (port taken, moto missing) or did not answer."""


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int, host: str = LOCALHOST) -> bool:
    """True when nothing accepts connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) != 0


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it when the parent dies, so no server outlives its owner."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class MotoEndpoint:
    """A moto server child process on ``127.0.0.1:port``; use as a context manager or start()/stop().

    Args:
        port: TCP port; 0 picks a free one.
        start_timeout_s: How long to wait for the server to answer before giving up.
        log_path: Where the server's request log goes; None discards it.
        strict_purge: Refuse a second ``PurgeQueue`` on a queue within 60 s, as SQS does. Tests
            turn it off so that every purge also drops messages in flight between tests.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        start_timeout_s: float = 20.0,
        log_path: Path | None = None,
        strict_purge: bool = True,
    ) -> None:
        self.port = port or free_port()
        self.host = LOCALHOST
        self.start_timeout_s = start_timeout_s
        self.log_path = log_path
        self.strict_purge = strict_purge
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the child process lives."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> MotoEndpoint:
        """Start the server and wait until it answers; raise ``EndpointError`` if it does not."""
        if self.running:
            return self
        if not port_is_free(self.port, self.host):
            raise EndpointError(f"port {self.port} on {self.host} is already in use")
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        # moto's server with one fix (SNS delivers to every subscription, see moto_server.py).
        command = [sys.executable, str(_MOTO_SERVER), "-H", self.host, "-p", str(self.port)]
        env = {**os.environ, "MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR": str(self.strict_purge).lower()}
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_die_with_parent,
                # Ctrl-C in a terminal interrupts its whole process group. In a session of its own the
                # server does not get it: its owner stops its clients first and then the server
                # (``stop``), instead of the clients failing on a server gone from under them.
                start_new_session=True,
            )
        finally:
            if output is not subprocess.DEVNULL:
                output.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EndpointError(f"moto server exited with code {self._process.returncode}")
            if self._answers():
                logger.info("local endpoint up at %s", self.endpoint_url)
                return self
            time.sleep(0.05)
        self.stop()
        raise EndpointError(
            f"moto server did not answer on {self.endpoint_url} within {self.start_timeout_s} s"
        )

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1):  # noqa: S310
                return True
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait until its port is closed."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout_s)
        deadline = time.monotonic() + timeout_s
        while not port_is_free(self.port, self.host) and time.monotonic() < deadline:
            time.sleep(0.05)
        logger.info("local endpoint at %s stopped", self.endpoint_url)

    def __enter__(self) -> MotoEndpoint:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
