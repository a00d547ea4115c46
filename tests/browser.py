"""Open a local page in headless Chromium and report what a person would see: console errors, network requests,
and the value of a JavaScript expression over the rendered DOM. Speaks the DevTools protocol over the websocket
client Prefect already depends on, so tests need no browser driver package.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
)


def ensure_chromium() -> Path:
    """The Debian chromium binary, installed with apt-get when missing (CI machines start without it)."""
    if not CHROMIUM.exists():
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1200, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed: {(done.stderr or done.stdout)[-2000:]}")
    return CHROMIUM


@dataclass
class PageVisit:
    """What happened while a page loaded."""

    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    value: Any = None
    screenshot_png: bytes | None = None


class _Session:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, session: str | None = None, timeout: float = 30, **params: Any) -> dict[str, Any]:
        message_id = next(self.ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1))))


def visit(page: Path, expression: str, *, screenshot: bool = False, after_load: str | None = None) -> PageVisit:
    """Load ``page`` in a fresh headless Chromium profile, then evaluate ``expression`` (returned by value).

    after_load: a script run before ``expression`` (e.g. a click), so the expression sees its effect.
    """
    from websockets.sync.client import connect

    profile = Path(tempfile.mkdtemp(prefix="cakupan-chromium-"))
    process = subprocess.Popen(
        [str(ensure_chromium()), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        with connect(f"ws://127.0.0.1:{port}{path}", max_size=None) as ws:
            cdp = _Session(ws)
            target = cdp.send("Target.createTarget", url="about:blank")["targetId"]
            session = cdp.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Runtime.enable", "Log.enable", "Page.enable", "Network.enable"):
                cdp.send(domain, session)
            cdp.send("Page.navigate", session, url=page.resolve().as_uri())
            cdp.wait_for("Page.loadEventFired")
            if after_load:
                cdp.send("Runtime.evaluate", session, expression=after_load)
            result = cdp.send("Runtime.evaluate", session, expression=expression, returnByValue=True)
            shot = (
                base64.b64decode(cdp.send("Page.captureScreenshot", session, captureBeyondViewport=True)["data"])
                if screenshot
                else None
            )
            return PageVisit(
                console_errors=_errors(cdp.events),
                requests=[
                    e["params"]["request"]["url"] for e in cdp.events if e.get("method") == "Network.requestWillBeSent"
                ],
                value=result.get("result", {}).get("value"),
                screenshot_png=shot,
            )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


def _errors(events: list[dict[str, Any]]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(params["entry"].get("text", ""))
    return errors
