"""Just enough of the Chrome DevTools Protocol to drive headless Chromium: start it, open a
page, run JavaScript, type, take a screenshot. Standard library only (a WebSocket client
over one socket, text frames)."""
from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any


class Chromium:
    """Headless Chromium with a DevTools port on 127.0.0.1, in a throwaway profile; the
    ``with`` block ends its whole process group."""

    def __init__(self, port: int, width: int, height: int, binary: str = "chromium") -> None:
        self.port, self.width, self.height, self.binary = port, width, height, binary
        self.proc: subprocess.Popen | None = None
        self.profile = Path(tempfile.mkdtemp(prefix="ganrun-chromium-"))
        self.sock: socket.socket | None = None
        self.next_id = 0

    def __enter__(self) -> "Chromium":
        cmd = [self.binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--no-first-run", f"--user-data-dir={self.profile}",
               f"--remote-debugging-port={self.port}", "--remote-allow-origins=*",
               f"--window-size={self.width},{self.height}", "about:blank"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        page = self._page_target(within_s=30)
        self._connect(page["webSocketDebuggerUrl"])
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sock is not None:
            self.sock.close()
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)

    # ------------------------------------------------------------------ what a script does
    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def js(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        got = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                        awaitPromise=True)
        if "exceptionDetails" in got:
            raise RuntimeError(f"{expression[:80]}: {got['exceptionDetails'].get('text')}")
        return got["result"].get("value")

    def wait_for(self, expression: str, within_s: float = 60, what: str = "") -> Any:
        """Poll until the expression is truthy; its value."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.5)
        raise TimeoutError(f"the page did not show {what or expression} within {within_s} s")

    def type(self, text: str) -> None:
        """Type into the focused element, as a user would."""
        self.call("Input.insertText", text=text)

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    # ------------------------------------------------------------------ the protocol
    def _page_target(self, within_s: float) -> dict:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list",
                                            timeout=2) as r:
                    pages = [t for t in json.load(r) if t.get("type") == "page"]
                if pages:
                    return pages[0]
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"chromium's DevTools did not answer on port {self.port}")

    def _connect(self, ws_url: str) -> None:
        host_port, _, path = ws_url[len("ws://"):].partition("/")
        host, _, port = host_port.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=120)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += self.sock.recv(4096)
        if b" 101 " not in answer.split(b"\r\n")[0]:
            raise ConnectionError(answer.split(b"\r\n")[0].decode())

    def call(self, method: str, **params: Any) -> dict:
        """Send one command; its result (events that arrive meanwhile are skipped)."""
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._receive())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def _send(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = (struct.pack("!BB", 0x81, 0x80 | n) if n < 126 else
                struct.pack("!BBH", 0x81, 0x80 | 126, n) if n < 65536 else
                struct.pack("!BBQ", 0x81, 0x80 | 127, n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _receive(self) -> str:
        """One whole message (continuation frames joined)."""
        parts = []
        while True:
            b0, b1 = self._exactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._exactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._exactly(8))[0]
            parts.append(self._exactly(n))
            if b0 & 0x80:
                return b"".join(parts).decode()

    def _exactly(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("chromium closed the DevTools connection")
            out += chunk
        return bytes(out)
