"""The functions of a local stack in a child process, which can be killed and started again.

``python -m infra.local_stack up --endpoint-url URL --no-api --no-portal`` runs only the pollers
of a stack another process provisioned. As a child process it stands in for the Lambda service:
killing it with SIGKILL mid-batch is what a crashed or timed-out function does to its messages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_LINE = b"Local stack ready"


class FunctionHostProcess:
    """``infra.local_stack up`` on an existing endpoint: only the functions, in a child process.

    Args:
        endpoint_url: the running local AWS endpoint.
        database_url: the database the functions use.
        log: file the child's output is appended to.
        stage: the template's Stage of the provisioned stack.
        parameters: the same parameter overrides the stack was provisioned with.
    """

    def __init__(
        self,
        endpoint_url: str,
        database_url: str,
        log: Path,
        *,
        stage: str,
        parameters: Mapping[str, str] | None = None,
        log_level: str = "INFO",
    ) -> None:
        self.command = [
            sys.executable,
            "-m",
            "infra.local_stack",
            "up",
            "--endpoint-url",
            endpoint_url,
            "--database-url",
            database_url,
            "--stage",
            stage,
            "--no-api",
            "--no-portal",
            "--log-level",
            log_level,
        ]
        for name, value in (parameters or {}).items():
            if name not in ("Stage", "DatabaseUrl"):
                self.command += ["-P", f"{name}={value}"]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self, timeout_s: float = 120.0) -> None:
        """Start the child and wait until its pollers run."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 (our own module, fixed arguments)
                self.command, cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT, env=dict(os.environ)
            )
        deadline = time.monotonic() + timeout_s
        while READY_LINE not in self.log.read_bytes()[offset:]:
            if self.process.poll() is not None:
                raise RuntimeError(f"the function host exited: {self.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the function host did not start within {timeout_s:.0f} s")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no handler runs, messages in flight stay unacknowledged."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self.kills += 1

    def stop(self) -> None:
        """SIGTERM and wait: the pollers finish their batch and exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
