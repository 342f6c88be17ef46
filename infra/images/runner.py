"""A function image started as Lambda starts it, and fed events through the Runtime API.

:class:`FunctionContainer` is one execution environment: the image's entrypoint with the
template's ``ImageConfig.Command``, the image's environment plus the function's and the variables
Lambda sets, a read-only file system but ``/tmp``, Lambda's unprivileged user, and
``AWS_LAMBDA_RUNTIME_API`` pointing at a :class:`~infra.images.runtime_api.RuntimeApiServer`. It
starts once (the cold start) and then serves any number of invocations (warm)::

    function = stack.functions["FaceMatchFunction"]
    with FunctionContainer(engine, "facematchfunction:python3.11-v1", function=function,
                           environment=stack.env("FaceMatchFunction")) as container:
        answer = container.invoke(event).result()

By default the environment also closes the way out to the internet (an unreachable HTTP(S) proxy
for everything but 127.0.0.1), so a function that tries to download weights at cold start fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from cloud_functions.core.aws import LOCAL_PLACEHOLDER_CREDENTIALS
from infra.images.engine import ContainerEngine, Started
from infra.images.runtime_api import Invocation, RuntimeApiError, RuntimeApiServer
from infra.local_stack.provisioner import LocalFunction

_IMAGE_TMP = "/tmp"  # noqa: S108 - the path inside the image, a fresh folder of the host's mounted there

# Every HTTP(S) client honours these; a proxy nobody listens on makes any download fail at once,
# while the local endpoint and the database on 127.0.0.1 stay reachable.
NO_INTERNET = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


def lambda_environment(
    function: LocalFunction, *, region: str, account_id: str, runtime_api: str
) -> dict[str, str]:
    """The variables Lambda itself sets for a function (its reserved environment variables)."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local/[$LATEST]image",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": LOCAL_PLACEHOLDER_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": LOCAL_PLACEHOLDER_CREDENTIALS["aws_secret_access_key"],
        "AWS_SESSION_TOKEN": "local",
        "TZ": ":UTC",
    }


class FunctionContainer:
    """One Lambda execution environment of an image function (see the module docstring).

    Args:
        engine: The container engine holding the image.
        image: The function's image.
        function: The template's function (name, memory, timeout, handler from ``ImageConfig.Command``).
        environment: The function's environment (``LocalStack.env(logical_id)``); it wins over the
            image's ``ENV`` as the function configuration does on Lambda.
        region, account_id: Written into the context and the function ARN.
        block_internet: Close the way out to the internet (see the module docstring).
    """

    def __init__(
        self,
        engine: ContainerEngine,
        image: str,
        *,
        function: LocalFunction,
        environment: Mapping[str, str],
        region: str = "us-east-1",
        account_id: str = "123456789012",
        block_internet: bool = True,
    ) -> None:
        self.engine = engine
        self.image = image
        self.function = function
        self.region = region
        self.account_id = account_id
        self._environment = dict(environment)
        self._block_internet = block_internet
        self._api = RuntimeApiServer(
            function_arn=f"arn:aws:lambda:{region}:{account_id}:{function.arn_suffix}",
            timeout_s=function.timeout_s,
        )
        self._tmp = Path(tempfile.mkdtemp(prefix="classsight-lambda-tmp-"))
        self._tmp.chmod(0o1777)
        self._started: Started | None = None
        self._reader: threading.Thread | None = None
        self._lines: list[str] = []
        self.started_at: float | None = None
        self.init_s: float | None = None
        """Seconds from starting the process to its first poll: Lambda's *Init Duration*."""
        self.peak_rss_bytes: int | None = None
        self.tmp_files: list[str] = []
        """Files the function left in ``/tmp`` (paths inside the image), read when it stops."""

    # --- life cycle ----------------------------------------------------------------------------------

    def start(self, timeout_s: float = 180) -> float:
        """Start the runtime and wait until it asks for its first event; return the init seconds."""
        self._api.start()
        config = self.engine.config(self.image)
        environment = {
            **config.env,
            **self._environment,
            **lambda_environment(
                self.function, region=self.region, account_id=self.account_id, runtime_api=self._api.address
            ),
            **(NO_INTERNET if self._block_internet else {}),
        }
        argv = config.argv([self.function.handler_path])
        self.started_at = time.monotonic()
        self._started = self.engine.start(self.image, argv, environment, self._tmp)
        self._reader = threading.Thread(target=self._read_output, name="function-output", daemon=True)
        self._reader.start()
        try:
            ready_at = self._api.wait_initialised(timeout_s, alive=self.alive)
        except RuntimeApiError as e:
            self.stop()
            raise RuntimeApiError(f"{self.function.logical_id}: {e}\n{self.output_tail()}") from e
        self.init_s = ready_at - self.started_at
        return self.init_s

    def invoke(self, event: Any) -> Invocation:
        """Send one event and wait for the function's answer (see :meth:`Invocation.result`)."""
        if self._started is None:
            self.start()
        try:
            return self._api.invoke(event, alive=self.alive)
        except RuntimeApiError as e:
            raise RuntimeApiError(f"{self.function.logical_id}: {e}\n{self.output_tail()}") from e

    def alive(self) -> bool:
        """Whether the runtime process still runs."""
        return self._started is not None and self._started.process.poll() is None

    def stop(self) -> None:
        """Stop the runtime (as Lambda freezes and retires an environment) and undo the mounts."""
        started, self._started = self._started, None
        if started is not None:
            self.peak_rss_bytes = _peak_rss(started.process.pid)
            _terminate(started.process)
            for argv in started.cleanup:
                subprocess.run(argv, capture_output=True, check=False)  # noqa: S603 - built by the engine
        if self._reader is not None:
            self._reader.join(5)
            self._reader = None
        self._api.stop()
        if self._tmp.exists():
            self.tmp_files = sorted(
                f"{_IMAGE_TMP}/{path.relative_to(self._tmp)}"
                for path in self._tmp.rglob("*")
                if path.is_file()
            )
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> FunctionContainer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- output --------------------------------------------------------------------------------------

    @property
    def output(self) -> list[str]:
        """What the runtime wrote to stdout and stderr (its logs), one line each."""
        return list(self._lines)

    def output_tail(self, lines: int = 30) -> str:
        """The last lines of the output, for error messages."""
        return "\n".join(self._lines[-lines:])

    def _read_output(self) -> None:
        started = self._started
        if started is None or started.process.stdout is None:
            return
        for raw in started.process.stdout:
            self._lines.append(raw.decode("utf-8", errors="replace").rstrip("\n"))


def _peak_rss(pid: int) -> int | None:
    """The process's peak resident memory (``VmHWM``), when it is still there to ask."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def _terminate(process: subprocess.Popen[bytes], grace_s: float = 5) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
