"""What a run has logged that its tracking store has not confirmed yet: the outbox.

Every metric point, param, tag, artifact and the final status goes through an
:class:`Outbox`. While the store answers, it empties at each flush; when a send fails it is
written to ``RUN_DIR/tracking/pending.jsonl`` (one JSON record a line, in logging order)
beside ``RUN_DIR/tracking/target.json`` (the store's uri and the MLflow run id), and sent
later: at a later flush of the same run, when the run resumes, or by ``ganrun sync RUN_DIR``.

Replaying is idempotent: a metric point keeps the timestamp it was logged with, so a point
that reached the store before a connection broke is the same (key, value, timestamp, step)
row again, which MLflow's SQL store drops as a duplicate; params are re-sent with the same
value, tags and artifacts overwrite themselves, a model version is registered once.
Artifacts are referenced by path (relative to the run folder when inside it): one that is
gone by the time it is replayed (a pruned checkpoint) is reported, never an error.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

FOLDER = "tracking"
PENDING = "pending.jsonl"
TARGET = "target.json"
# MLflow's limits for one log_batch call
MAX_METRICS, MAX_PARAMS, MAX_TAGS, MAX_ENTRIES = 1000, 100, 100, 1000


def metric(key: str, value: float, step: int, timestamp_ms: int | None = None) -> dict:
    """A metric point, stamped now (milliseconds) unless a timestamp is given."""
    ts = int(time.time() * 1000) if timestamp_ms is None else int(timestamp_ms)
    return {"kind": "metric", "key": key, "value": float(value), "step": int(step), "timestamp": ts}


def param(key: str, value: str) -> dict:
    return {"kind": "param", "key": key, "value": str(value)}


def tag(key: str, value: str) -> dict:
    return {"kind": "tag", "key": key, "value": str(value)}


def artifact(path: str | Path, dest: str | None, base: Path) -> dict:
    """A file or folder to upload under ``dest``; stored relative to ``base`` when inside it."""
    p = Path(path).resolve()
    try:
        stored = str(p.relative_to(base.resolve()))
    except ValueError:
        stored = str(p)
    return {"kind": "artifact", "path": stored, "dest": dest, "dir": p.is_dir()}


def status(value: str, end_time_ms: int | None = None) -> dict:
    """The run's final status (FINISHED, FAILED, KILLED) with the time it ended."""
    end = int(time.time() * 1000) if end_time_ms is None else int(end_time_ms)
    return {"kind": "status", "status": value, "end_time": end}


def register(name: str) -> dict:
    """Register the run's generator folder as a version of model ``name``."""
    return {"kind": "register", "name": name}


@dataclass
class Counts:
    """How many records of each kind: pending, or delivered by a replay."""

    metrics: int = 0
    params: int = 0
    tags: int = 0
    artifacts: int = 0
    status: str | None = None
    registers: int = 0
    gone: list[str] = field(default_factory=list)  # artifacts no longer in the run folder

    @classmethod
    def of(cls, records: Iterable[dict]) -> "Counts":
        c = cls()
        for r in records:
            c.note(r)
        return c

    def note(self, r: dict) -> None:
        kind = r["kind"]
        if kind == "status":
            self.status = r["status"]
        elif kind == "register":
            self.registers += 1
        else:
            setattr(self, f"{kind}s", getattr(self, f"{kind}s") + 1)

    def describe(self) -> str:
        """``12 metric points, 3 params, 1 tag, 2 artifacts, status FINISHED``."""
        parts = [f"{n} {what}{'s' if n != 1 else ''}" for n, what in (
            (self.metrics, "metric point"), (self.params, "param"), (self.tags, "tag"),
            (self.artifacts, "artifact"), (self.registers, "model registration")) if n]
        if self.status:
            parts.append(f"status {self.status}")
        return ", ".join(parts) or "nothing"


class Outbox:
    """The pending records of one run, in memory and, once persisted, in the run folder.

    ``records[:on_disk]`` are what ``pending.jsonl`` holds; the rest are new since the last
    :meth:`persist` or :meth:`settle`.
    """

    def __init__(self, run_dir: str | Path, uri: str | None = None, run_id: str | None = None):
        self.run_dir = Path(run_dir).resolve()
        self.folder = self.run_dir / FOLDER
        self.path = self.folder / PENDING
        saved = read_target(self.run_dir)
        self.uri = uri or saved.get("uri")
        self.run_id = run_id or saved.get("run_id")
        self.records: list[dict] = _read_records(self.path)
        self.on_disk = len(self.records)
        self._dropped = False
        self._target_written = False

    def add(self, record: dict) -> None:
        self.records.append(record)

    @property
    def fresh(self) -> int:
        """Records not written to the run folder yet."""
        return len(self.records) - self.on_disk

    def counts(self) -> Counts:
        return Counts.of(self.records)

    def persist(self) -> None:
        """Append the fresh records to ``pending.jsonl``."""
        if self.fresh:
            self._write_target()
            with self.path.open("a") as f:
                f.writelines(json.dumps(r) + "\n" for r in self.records[self.on_disk:])
                f.flush()
                os.fsync(f.fileno())
            self.on_disk = len(self.records)

    def settle(self) -> None:
        """After a replay (whole or cut short): the run folder holds exactly what is pending;
        nothing pending leaves no ``tracking/`` folder behind."""
        if not self.records:
            for p in (self.path, self.folder / TARGET):
                p.unlink(missing_ok=True)
            if self.folder.is_dir() and not any(self.folder.iterdir()):
                self.folder.rmdir()
            self._target_written = False
        elif self._dropped:
            self._write_target()
            tmp = self.path.with_suffix(".tmp")
            with tmp.open("w") as f:
                f.writelines(json.dumps(r) + "\n" for r in self.records)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        else:
            self.persist()
            return
        self.on_disk, self._dropped = len(self.records), False

    def drop(self, n: int) -> None:
        """The first ``n`` records reached the store (the file catches up at :meth:`settle`)."""
        del self.records[:n]
        self._dropped = self._dropped or n > 0

    def _write_target(self) -> None:
        if not self._target_written:  # once per session: a resume may name another store
            self.folder.mkdir(parents=True, exist_ok=True)
            text = json.dumps({"uri": self.uri, "run_id": self.run_id}, indent=2)
            (self.folder / TARGET).write_text(text)
            self._target_written = True


def read_target(run_dir: str | Path) -> dict[str, Any]:
    """``{"uri": ..., "run_id": ...}`` of a run folder's pending records, or ``{}``."""
    path = Path(run_dir) / FOLDER / TARGET
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _read_records(path: Path) -> list[dict]:
    """The pending records; a last line torn by a kill mid-write is left out."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except ValueError:
            if i < len(lines) - 1:
                raise
    return records


def is_transient(error: BaseException) -> bool:
    """True for a store that did not answer or failed on its side (no connection, timeout,
    HTTP 5xx or 429): worth sending again later. False for a refusal (a bad value, a deleted
    run), which would fail the same way again."""
    from mlflow.exceptions import MlflowException

    if isinstance(error, MlflowException):
        code = error.get_http_status_code()
        return (code >= 500 or code == 429) and error.error_code not in (
            "INVALID_STATE", "NOT_IMPLEMENTED", "DATA_LOSS")
    return isinstance(error, (OSError, TimeoutError))  # requests' errors are OSErrors


def replay(outbox: Outbox, client: Any, run_id: str,
           register_model: Callable[[Any, str, str], None], sent: Counts | None = None) -> Counts:
    """Send the outbox's records to ``client`` in order, dropping each group once the store
    took it; returns what was delivered (added to ``sent`` when given). An error stops it
    (the rest stays pending) and is raised; call :meth:`Outbox.settle` after it either way."""
    sent = Counts() if sent is None else sent
    while outbox.records:
        group = _next_group(outbox.records)
        first = group[0]
        if first["kind"] in ("metric", "param", "tag"):
            _log_batch(client, run_id, group)
        elif first["kind"] == "artifact":
            path = Path(first["path"])
            path = path if path.is_absolute() else outbox.run_dir / path
            if not path.exists():
                sent.gone.append(first["path"])
                outbox.drop(1)
                continue
            if first["dir"]:
                client.log_artifacts(run_id, str(path), artifact_path=first["dest"])
            else:
                client.log_artifact(run_id, str(path), artifact_path=first["dest"])
        elif first["kind"] == "status":
            client.set_terminated(run_id, status=first["status"], end_time=first["end_time"])
        elif first["kind"] == "register":
            register_model(client, first["name"], run_id)
        for r in group:
            sent.note(r)
        outbox.drop(len(group))
    return sent


def _next_group(records: list[dict]) -> list[dict]:
    """The records the next call sends: a run of metrics/params/tags within one log_batch's
    limits (a key seen twice starts a new batch, keeping the order), or one other record."""
    if records[0]["kind"] not in ("metric", "param", "tag"):
        return records[:1]
    limits = {"metric": MAX_METRICS, "param": MAX_PARAMS, "tag": MAX_TAGS}
    n = {"metric": 0, "param": 0, "tag": 0}
    keys: set[tuple[str, str]] = set()
    group = []
    for r in records:
        kind = r["kind"]
        if kind not in n or n[kind] >= limits[kind] or len(group) >= MAX_ENTRIES:
            break
        if kind != "metric" and (kind, r["key"]) in keys:
            break
        keys.add((kind, r["key"]))
        n[kind] += 1
        group.append(r)
    return group


def _log_batch(client: Any, run_id: str, group: list[dict]) -> None:
    from mlflow.entities import Metric, Param, RunTag

    client.log_batch(
        run_id,
        metrics=[Metric(r["key"], r["value"], r["timestamp"], r["step"])
                 for r in group if r["kind"] == "metric"],
        params=[Param(r["key"], r["value"]) for r in group if r["kind"] == "param"],
        tags=[RunTag(r["key"], r["value"]) for r in group if r["kind"] == "tag"],
    )
