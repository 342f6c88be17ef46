"""A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (no extra packages).

Chromium reads NUL-terminated JSON commands from its fd 3 and writes replies and events to fd 4.
``Browser`` starts headless Chromium with those two pipes, opens one page and offers the few
calls the portal tests need: navigate, evaluate JavaScript (awaiting promises), wait for a
condition.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def _above_four(fd: int) -> int:
    """``fd`` moved to a descriptor number of at least 10 (the original is closed)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class CdpError(RuntimeError):
    """Chromium answered a command with an error, or did not answer in time."""


class Browser:
    """Headless Chromium driven through the DevTools pipe; use as a context manager."""

    def __init__(self, chromium: str, user_data_dir: Path, *, timeout_s: float = 20.0) -> None:
        self.timeout_s = timeout_s
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        # Above fd 4, so that mapping one end onto 3 cannot overwrite the other before it is mapped.
        to_browser_read, from_browser_write = (
            _above_four(to_browser_read),
            _above_four(from_browser_write),
        )
        # A tiny launcher maps our pipe ends onto fds 3 and 4, where Chromium expects them.
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
                "os.execv(sys.argv[3], sys.argv[3:])",
                str(to_browser_read),
                str(from_browser_write),
                chromium,
                *HEADLESS_FLAGS,
                f"--user-data-dir={user_data_dir}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            pass_fds=(to_browser_read, from_browser_write),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self._session_id: str | None = None

    def __enter__(self) -> Browser:
        target_id = self.command("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session_id = self.command("Target.attachToTarget", {"targetId": target_id, "flatten": True})[
            "sessionId"
        ]
        self.command("Page.enable", session=True)
        self.command("Runtime.enable", session=True)
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self._send({"id": self._new_id(), "method": "Browser.close"})
            self._process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()
        finally:
            os.close(self._to_browser)
            os.close(self._from_browser)

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _send(self, message: dict[str, Any]) -> None:
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CdpError("no answer from Chromium in time")
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if ready:
                chunk = os.read(self._from_browser, 65536)
                if not chunk:
                    raise CdpError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def command(self, method: str, params: dict[str, Any] | None = None, *, session: bool = False) -> Any:
        """Send one command and return its result (events in between are skipped)."""
        message: dict[str, Any] = {"id": self._new_id(), "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session_id
        self._send(message)
        deadline = time.monotonic() + self.timeout_s
        while True:
            reply = self._receive(deadline)
            if "method" in reply and "id" not in reply:
                self.events.append(reply)
                continue
            if reply.get("id") == message["id"]:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def navigate(self, url: str) -> None:
        """Open ``url`` in the page."""
        self.command("Page.navigate", {"url": url}, session=True)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.command(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session=True,
        )
        if "exceptionDetails" in result:
            raise CdpError(f"JavaScript failed: {result['exceptionDetails'].get('text')}: {expression[:200]}")
        return result.get("result", {}).get("value")

    def errors(self) -> list[str]:
        """Uncaught JavaScript exceptions of the page so far."""
        return [
            str(e["params"]["exceptionDetails"].get("exception", {}).get("description") or e["params"])
            for e in self.events
            if e.get("method") == "Runtime.exceptionThrown"
        ]

    def set_viewport(self, width: int, height: int) -> None:
        """Make the page ``width`` × ``height`` CSS pixels. Not emulated as a mobile browser, whose
        layout viewport would widen to fit overflowing content and hide it."""
        self.command(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )

    def screenshot(self, path: Path) -> None:
        """A PNG of the whole page (beyond the viewport) at ``path``."""
        metrics = self.command("Page.getLayoutMetrics", session=True)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        viewport = metrics.get("cssLayoutViewport") or metrics["layoutViewport"]
        result = self.command(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": min(size["width"], viewport["clientWidth"]),
                    "height": min(size["height"], 6000),
                    "scale": 1,
                },
            },
            session=True,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(result["data"]))

    def press(self, key: str, *, code: str | None = None, shift: bool = False) -> None:
        """Press and release one key as a keyboard would (Tab, Enter, " ", ArrowDown ...)."""
        codes = {"Tab": 9, "Enter": 13, " ": 32, "Escape": 27, "ArrowDown": 40, "ArrowUp": 38}
        params: dict[str, Any] = {
            "key": key,
            "code": code or ("Space" if key == " " else key),
            "windowsVirtualKeyCode": codes.get(key, 0),
            "modifiers": 8 if shift else 0,
        }
        if key in ("Enter", " "):
            params["text"] = "\r" if key == "Enter" else " "
        self.command("Input.dispatchKeyEvent", {"type": "keyDown", **params}, session=True)
        self.command("Input.dispatchKeyEvent", {"type": "keyUp", **params}, session=True)

    def type_text(self, text: str) -> None:
        """Type ``text`` into the focused element."""
        self.command("Input.insertText", {"text": text}, session=True)

    def allow_downloads(self, folder: Path) -> None:
        """Save the page's downloads into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        self.command("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})

    def set_file_input(self, selector: str, path: Path | list[Path]) -> None:
        """Choose ``path`` (or several) in the first file input matching ``selector`` (fires change)."""
        paths = path if isinstance(path, list) else [path]
        root = self.command("DOM.getDocument", {"depth": 0}, session=True)["root"]["nodeId"]
        node = self.command("DOM.querySelector", {"nodeId": root, "selector": selector}, session=True)[
            "nodeId"
        ]
        if not node:
            raise CdpError(f"no element matches {selector}")
        files = [str(p) for p in paths]
        self.command("DOM.setFileInputFiles", {"files": files, "nodeId": node}, session=True)

    def wait_for(self, expression: str, *, timeout_s: float | None = None) -> Any:
        """Evaluate ``expression`` until it is truthy; its value, or ``CdpError`` after the timeout."""
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except CdpError:
                value = None  # the page may be between documents
            if value:
                return value
            time.sleep(0.1)
        raise CdpError(f"timed out waiting for: {expression}")
