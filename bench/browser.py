"""Opens a report in headless Chromium over the DevTools protocol (a pipe, standard library
only) and tells what a reader would see: console errors, network requests, timings, a screenshot.
Used by the browser test and the benchmark; needs Debian's `chromium`."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--disable-default-apps", "--mute-audio", "--hide-scrollbars", "--remote-debugging-pipe"]


class BrowserError(RuntimeError):
    """Chromium could not be started or did not answer in time."""


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageVisit:
    """What opening a page showed."""
    url: str
    load_seconds: float = 0.0              # navigation to the load event
    ready_seconds: float = 0.0             # navigation to the report's tables rendered
    requests: list[str] = field(default_factory=list)   # every URL the page requested
    errors: list[str] = field(default_factory=list)     # console errors, exceptions, CSP reports
    facts: dict = field(default_factory=dict)           # the result of the `inspect` expression


class Chromium:
    """One headless Chromium, driven through --remote-debugging-pipe (fd 3 in, fd 4 out)."""

    def __init__(self, binary: str | None = None, width: int = 1280, height: int = 900,
                 timeout: float = 60.0):
        self.binary = binary or find_chromium()
        if not self.binary:
            raise BrowserError("chromium not found: install it (Debian: apt-get install chromium)")
        self.width, self.height, self.timeout = width, height, timeout
        self.profile = tempfile.mkdtemp(prefix="content-audit-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire_fds():  # runs in the child before exec: the protocol's fixed fd numbers
            # Moved above 9 first: a pipe end may itself be fd 3 or 4.
            r, w = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)

        try:
            self.proc = subprocess.Popen(
                [self.binary, *FLAGS, f"--user-data-dir={self.profile}",
                 f"--window-size={width},{height}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                preexec_fn=wire_fds, close_fds=False)  # the pipes are non-inheritable (PEP 446)
        except OSError as exc:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise BrowserError(f"cannot start {self.binary}: {exc}") from None
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._next_id = 0
        self._replies: dict[int, queue.Queue] = {}
        self.events: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session: str | None = None

    # --- the protocol --------------------------------------------------------------------

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_child, 1 << 20)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg and msg["id"] in self._replies:
                    self._replies[msg["id"]].put(msg)
                else:
                    self.events.put(msg)
        self.events.put({"method": "__closed__"})

    def send(self, method: str, params: dict | None = None, browser: bool = False,
             timeout: float | None = None) -> dict:
        """A command to the open tab, or to the browser itself; returns its result."""
        with self._lock:
            self._next_id += 1
            mid = self._next_id
            self._replies[mid] = queue.Queue()
        msg = {"id": mid, "method": method, "params": params or {}}
        if self.session and not browser:
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        try:
            reply = self._replies[mid].get(timeout=timeout or self.timeout)
        except queue.Empty:
            raise BrowserError(f"chromium did not answer {method} in time") from None
        finally:
            self._replies.pop(mid, None)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def open_tab(self) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 browser=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})

    # --- a visit -----------------------------------------------------------------------------

    def visit(self, path: Path, ready_expression: str = "document.documentElement.getAttribute('data-report-ready')",
              inspect: str | None = None) -> PageVisit:
        """Open a local file, wait for the load event and for ready_expression to be truthy,
        then evaluate `inspect` (an expression returning a JSON-able value)."""
        if self.session is None:
            self.open_tab()
        while not self.events.empty():
            self.events.get_nowait()
        url = Path(path).resolve().as_uri()
        visit = PageVisit(url)
        start = time.monotonic()
        self.send("Page.navigate", {"url": url})
        deadline = start + self.timeout
        loaded = False
        while not loaded:
            loaded = self._drain(visit, deadline, until="Page.loadEventFired")
        visit.load_seconds = time.monotonic() - start
        while True:
            value = self.evaluate(ready_expression)
            if value:
                break
            if time.monotonic() > deadline:
                raise BrowserError(f"the page did not become ready: {ready_expression}")
            time.sleep(0.05)
        visit.ready_seconds = time.monotonic() - start
        time.sleep(0.3)  # late console messages and requests
        self._drain(visit, time.monotonic() + 0.2)
        if inspect:
            visit.facts = self.evaluate(inspect)
        self._drain(visit, time.monotonic() + 0.1)
        return visit

    def _drain(self, visit: PageVisit, deadline: float, until: str | None = None) -> bool:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if until:
                    raise BrowserError(f"chromium sent no {until} in time")
                return False
            try:
                msg = self.events.get(timeout=min(left, 0.1) if not until else left)
            except queue.Empty:
                if until:
                    continue
                return False
            method, params = msg.get("method"), msg.get("params", {})
            if method == "__closed__":
                raise BrowserError("chromium exited")
            if method == "Network.requestWillBeSent":
                visit.requests.append(params["request"]["url"])
            elif method == "Runtime.exceptionThrown":
                d = params["exceptionDetails"]
                visit.errors.append("exception: " + (d.get("exception", {}).get("description") or d.get("text", "")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                visit.errors.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                          for a in params.get("args", [])))
            elif method == "Page.javascriptDialogOpening":
                visit.errors.append(f"dialog ({params.get('type')}): {params.get('message')}")
                self.send("Page.handleJavaScriptDialog", {"accept": False})
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                visit.errors.append(f"log ({params['entry'].get('source')}): {params['entry'].get('text')}")
            if until and method == until:
                return True

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"evaluating {expression[:60]!r} failed: "
                               f"{result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def screenshot(self, path: Path, height: int | None = None) -> Path:
        """A PNG of the page from the top, `height` CSS pixels tall (default: the whole page)."""
        if height is None:
            height = int(self.evaluate("document.documentElement.scrollHeight"))
        clip = {"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1}
        data = self.send("Page.captureScreenshot", {"format": "png", "clip": clip,
                                                    "captureBeyondViewport": True})["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def print_pdf(self, path: Path) -> Path:
        data = self.send("Page.printToPDF", {"printBackground": True})["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close", browser=True, timeout=5)
                except BrowserError:
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            for fd in (self._to_child, self._from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
