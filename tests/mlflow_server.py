"""A real ``mlflow server`` (or ``mlflow ui``) on 127.0.0.1, for tests and the docs'
screenshots: started in its own process group, stopped with everything it started."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


class MlflowServer:
    """``mlflow server`` on 127.0.0.1:PORT with its store in ``root`` (a SQLite database and
    an artifacts folder); stop and start again on the same port and database. ``backend``:
    serve that existing store instead, with ``mlflow ui`` (what a user runs on ganrun's
    local store)."""

    def __init__(self, root: Path, port: int, backend: str | None = None) -> None:
        self.root, self.port, self.backend = Path(root), port, backend
        self.uri = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        mlflow = str(Path(sys.executable).parent / "mlflow")
        where = ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        if self.backend:
            return [mlflow, "ui", "--backend-store-uri", self.backend, *where]
        return [mlflow, "server", "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
                "--artifacts-destination", (self.root / "artifacts").as_uri(), *where]

    def start(self, within_s: float = 120) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        log = (self.root / "server.log").open("a")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)  # its workers die with it
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.root / "server.log").read_text()[-3000:])
            try:
                urllib.request.urlopen(f"{self.uri}/health", timeout=2).close()
                return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"mlflow did not answer within {within_s} s")

    def stop(self) -> None:
        """End the server's process group; return once the port refuses connections."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(15)
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                time.sleep(0.2)
            except OSError:
                return

    def __enter__(self) -> "MlflowServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
