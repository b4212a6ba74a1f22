"""Drive a headless Chromium from Python over the DevTools protocol, with the standard library alone: the
browser is started with `--remote-debugging-pipe` and speaks JSON messages ended by a NUL byte on file
descriptors 3 (commands in) and 4 (replies out). Used to check and measure the `ssvae-edge web` page in
a real browser (tests/test_web.py, tools/bench_web.py, tools/web_screenshot.py).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserError(RuntimeError):
    """The browser could not start, a command failed, or a page did not finish in time."""


def find_chromium() -> str | None:
    """The Chromium binary: $SSVAE_CHROMIUM, else the first of BROWSERS on PATH."""
    env = os.environ.get("SSVAE_CHROMIUM")
    if env:
        return env if Path(env).exists() else shutil.which(env)
    return next((p for name in BROWSERS if (p := shutil.which(name))), None)


class Chromium:
    """One headless browser process; `open(url)` gives a `Page`. Use as a context manager."""

    def __init__(self, binary: str | None = None, extra_args: tuple[str, ...] = ()):
        binary = binary or find_chromium()
        if not binary:
            raise BrowserError("no Chromium found (install the OS package 'chromium' or set SSVAE_CHROMIUM)")
        self.profile = tempfile.mkdtemp(prefix="ssvae-chromium-")
        to_child, self._w = os.pipe()
        self._r, from_child = os.pipe()
        # hand the child ends over as fds 3 and 4, out of the way of any fd it already has
        hi_in, hi_out = fcntl.fcntl(to_child, fcntl.F_DUPFD, 20), fcntl.fcntl(from_child, fcntl.F_DUPFD, 20)
        for fd in (to_child, from_child):
            os.close(fd)

        def child_fds() -> None:
            os.dup2(hi_in, 3)
            os.dup2(hi_out, 4)

        args = [binary, "--headless", "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
                "--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-extensions", "--mute-audio", *extra_args]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox (CI containers)
        self.log = Path(self.profile) / "stderr.log"  # a file, not a pipe: nobody has to drain it
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([*args, "about:blank"], preexec_fn=child_fds, close_fds=False,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        os.close(hi_in)
        os.close(hi_out)
        self._next = 0
        self._replies: dict[int, dict] = {}
        self.events: list[dict] = []
        self._cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.version = self.send("Browser.getVersion", timeout=60)["product"]
        except BrowserError:
            tail = self.log.read_text(errors="replace")[-500:] if self.log.exists() else ""
            self.close()
            raise BrowserError(f"{binary} did not start: {tail.strip() or 'no output'}") from None

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._r, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cv:
                    self._closed = True
                    self._cv.notify_all()
                return
            buf += chunk
            *messages, buf = buf.split(b"\0")
            with self._cv:
                for raw in messages:
                    msg = json.loads(raw)
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                self._cv.notify_all()

    _closed = False

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 60) -> dict:
        """One DevTools command; its result (raises BrowserError on an error reply or no reply)."""
        with self._cv:
            self._next += 1
            mid = self._next
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        try:
            os.write(self._w, json.dumps(msg).encode() + b"\0")
        except OSError:
            raise BrowserError(f"{method}: the browser has exited") from None
        deadline = time.monotonic() + timeout
        with self._cv:
            while mid not in self._replies:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise BrowserError(f"{method}: no reply from the browser"
                                       + (" (it exited)" if self._closed else f" within {timeout:g} s"))
                self._cv.wait(left)
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def open(self, url: str, width: int = 900, height: int = 1200, scale: float = 1, mobile: bool = False) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        page.send("Runtime.enable")
        page.send("Page.enable")
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile})
        seen = len(self.events)
        page.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired", session, seen)
        return page

    def wait_event(self, method: str, session: str, after: int = 0, timeout: float = 120) -> dict:
        """The first `method` event of `session` from `self.events[after:]`, waiting for it if needed."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for e in self.events[after:]:
                    if e.get("method") == method and e.get("sessionId") == session:
                        return e
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise BrowserError(f"no {method} from the browser within {timeout:g} s")
                self._cv.wait(left)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except BrowserError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    """One tab: evaluate JavaScript, wait for a condition, take a screenshot, read its console errors."""

    def __init__(self, browser: Chromium, session: str):
        self.browser, self.session = browser, session

    def send(self, method: str, params: dict | None = None, timeout: float = 60) -> dict:
        return self.browser.send(method, params, self.session, timeout)

    def evaluate(self, expression: str, timeout: float = 120) -> Any:
        """The JSON value of a JavaScript expression (a promise is awaited)."""
        r = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                           "returnByValue": True}, timeout=timeout)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise BrowserError(f"JavaScript: {d.get('exception', {}).get('description') or d.get('text')}")
        return r["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 180, poll: float = 0.1) -> Any:
        """Poll until `expression` is truthy; its value (BrowserError with the console's errors if never)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(poll)
        raise BrowserError(f"{expression!r} still false after {timeout:g} s; console: {self.console_errors()}")

    def console_errors(self) -> list[str]:
        """Uncaught exceptions and console.error messages of this tab so far."""
        out = []
        for e in list(self.browser.events):
            if e.get("sessionId") != self.session:
                continue
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(d.get("exception", {}).get("description") or d.get("text", ""))
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        return out

    def pick_file(self, selector: str, path: str | Path) -> None:
        """Choose `path` in the file input `selector`, as a person would (the input's change event fires)."""
        root = self.send("DOM.getDocument")["root"]["nodeId"]
        node = self.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        self.send("DOM.setFileInputFiles", {"nodeId": node, "files": [str(Path(path).resolve())]})

    def screenshot(self, path: str | Path, full_page: bool = True) -> Path:
        """A PNG of the page (its whole height when `full_page`)."""
        r = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": full_page})
        path = Path(path)
        path.write_bytes(base64.b64decode(r["data"]))
        return path
