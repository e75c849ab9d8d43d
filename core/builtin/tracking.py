"""Built-in plugin: tracks every run in MLflow (params, losses, grids, checkpoints, model).

The default store is a SQLite file under the working directory (``mlruns/mlflow.db``), so
tracking works offline with no server; ``track.uri`` points it at a server instead. Step
losses are buffered and sent with ``log_batch`` at each epoch's end, never one blocking
call per value. A resumed run continues the same MLflow run and skips values it already
holds, so every step and epoch appears once. However a run ends, its MLflow run is closed
with the matching status: FINISHED, FAILED or KILLED.
"""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganrun import hookimpl
from ganrun.checkpoint import GENERATOR_DIR

STORE_DIR = "mlruns"
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep stderr readable
BATCH = 1000  # MLflow's limit of metrics per log_batch call


def default_uri(cwd: Path | None = None) -> str:
    return f"sqlite:///{(cwd or Path.cwd()).resolve() / STORE_DIR / 'mlflow.db'}"


def tracking_uri(recipe: Any) -> str:
    return recipe.track.uri or default_uri()


ANSWER_WITHIN_S = 5.0  # MLflow's own client retries a dead server for minutes
DATABASE_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}


def check_server(uri: str, key: str = "track.uri") -> None:
    """Refuse, in a few seconds, a tracking store on the network that does not answer:
    an http(s) server must answer ``GET /health`` (any HTTP status counts as an answer), a
    database server must accept a TCP connection. Local stores (sqlite, file) pass."""
    import socket
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    from ganrun.errors import UserError

    parts = urlsplit(uri)
    scheme = parts.scheme.split("+")[0]  # postgresql+psycopg2 -> postgresql
    try:
        if scheme in ("http", "https"):
            try:
                urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=ANSWER_WITHIN_S).close()
            except urllib.error.HTTPError:
                pass  # a status, even 404 or 401, is an answer
        elif scheme in DATABASE_PORTS and parts.hostname:
            port = parts.port or DATABASE_PORTS[scheme]
            socket.create_connection((parts.hostname, port), timeout=ANSWER_WITHIN_S).close()
    except (OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise UserError(f"{key}: no tracking server answers at {uri} within "
                        f"{ANSWER_WITHIN_S:.0f} s ({reason})") from None


@hookimpl
def ganrun_check_run(recipe):
    if recipe.track.enabled and recipe.track.uri:
        check_server(recipe.track.uri)


@dataclass
class _Tracked:
    client: Any
    run_id: str
    uri: str
    buffer: list = field(default_factory=list)
    logged: dict[str, int] = field(default_factory=dict)  # key -> last step already stored

    def add(self, key: str, value: float, step: int) -> None:
        if step > self.logged.get(key, -1):
            from mlflow.entities import Metric

            self.buffer.append(Metric(key, float(value), int(time.time() * 1000), step))

    def flush(self) -> None:
        while self.buffer:
            chunk, self.buffer = self.buffer[:BATCH], self.buffer[BATCH:]
            self.client.log_batch(self.run_id, metrics=chunk)


_runs: dict[int, _Tracked] = {}


def flatten(d: Any, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = str(v)
    return out


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _mlflow_command() -> str:
    """``mlflow``, or its full path when it is not on PATH (a venv not activated)."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / "mlflow"
    return "mlflow" if shutil.which("mlflow") or not beside.exists() else str(beside)


def _experiment_id(client: Any, name: str, uri: str) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None
    if uri.startswith("sqlite:///"):  # artifacts beside the local store, not in the cwd
        location = (Path(uri[len("sqlite:///"):]).parent / "artifacts").as_uri()
    return client.create_experiment(name, artifact_location=location)


def _already_logged(client: Any, run_id: str) -> dict[str, int]:
    keys = client.get_run(run_id).data.metrics.keys()
    return {k: max(m.step for m in client.get_metric_history(run_id, k)) for k in keys}


@hookimpl
def ganrun_run_start(run):
    recipe = run.recipe
    if not recipe.track.enabled:
        return
    from mlflow.entities import Param, RunTag
    from mlflow.tracking import MlflowClient
    from omegaconf import OmegaConf

    uri = tracking_uri(recipe)
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if run.resumed and run.id:
        client.update_run(run.id, status="RUNNING")
        tracked = _Tracked(client, run.id, uri, logged=_already_logged(client, run.id))
    else:
        tags = {"ganrun.method": recipe.method, "ganrun.recipe": recipe.name,
                "ganrun.output_dir": str(run.output_dir)}
        tags.update({f"ganrun.plugin.{k}": v for k, v in run.plugin_versions.items()})
        commit = _git_commit()
        if commit:
            tags["mlflow.source.git.commit"] = commit
        exp = _experiment_id(client, recipe.track.experiment or recipe.name, uri)
        mlrun = client.create_run(exp, run_name=recipe.track.run_name or run.output_dir.name,
                                  tags=tags)
        tracked = _Tracked(client, mlrun.info.run_id, uri)
        params = [Param(k, v[:6000]) for k, v in
                  flatten(OmegaConf.to_container(OmegaConf.create(run.recipe_yaml))).items()]
        for i in range(0, len(params), 100):
            client.log_batch(tracked.run_id, params=params[i : i + 100])
        client.log_batch(tracked.run_id, tags=[RunTag("ganrun.status", "RUNNING")])
        client.log_artifact(tracked.run_id, str(run.output_dir / "recipe.yaml"))
        run.id = tracked.run_id
    _runs[id(run)] = tracked
    run.summary["run id"] = run.id
    run.summary["MLflow UI"] = f"{_mlflow_command()} ui --backend-store-uri {uri}"


@hookimpl
def ganrun_step_end(run, losses):
    tracked = _runs.get(id(run))
    if tracked is None or run.step % run.recipe.train.log_every:
        return
    for k, v in losses.items():
        tracked.add(f"loss/{k}", v, run.step)
    if len(tracked.buffer) >= BATCH:
        tracked.flush()


@hookimpl(trylast=True)
def ganrun_epoch_end(run, report):
    tracked = _runs.get(id(run))
    if tracked is None:
        return
    for k, v in report.metrics.items():
        tracked.add(k, v, report.epoch)
    tracked.flush()
    _log_tags(tracked, run.tags)
    for name, path in report.artifacts.items():  # a resumed epoch's file replaces its own
        folder = name.rpartition("/")[0] or f"{name}s"  # "grid" -> grids/; "maps/D" -> maps/
        tracked.client.log_artifact(tracked.run_id, path, artifact_path=folder)


@hookimpl
def ganrun_save_state(run):
    """Before a checkpoint: send the buffered step values, so the record is never behind it."""
    tracked = _runs.get(id(run))
    if tracked is not None:
        tracked.flush()


@hookimpl
def ganrun_checkpoint_saved(run, path, epoch):
    tracked = _runs.get(id(run))
    if tracked is not None:
        tracked.client.log_artifact(tracked.run_id, path, artifact_path="checkpoints")


@hookimpl(trylast=True)
def ganrun_run_end(run, status, error):
    from mlflow.entities import RunTag

    tracked = _runs.pop(id(run), None)
    if tracked is None:
        return
    client = tracked.client
    try:
        tracked.flush()
        if status == "FINISHED" and run.generator_path:
            folder = Path(run.generator_path)
            folder = folder if folder.is_dir() else folder.parent
            client.log_artifacts(tracked.run_id, str(folder), artifact_path=GENERATOR_DIR)
            if run.recipe.track.register_model:
                _register(client, run.recipe.name, tracked.run_id)
        _log_tags(tracked, run.tags)
        tags = [RunTag("ganrun.status", status)]
        if run.stop_reason:
            tags.append(RunTag("ganrun.stop_reason", run.stop_reason[:5000]))
        client.log_batch(tracked.run_id, tags=tags)
    finally:
        client.set_terminated(tracked.run_id, status=status)


def _log_tags(tracked: _Tracked, tags: dict[str, str]) -> None:
    from mlflow.entities import RunTag

    if tags:
        tracked.client.log_batch(tracked.run_id,
                                 tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()])


def _register(client: Any, name: str, run_id: str) -> None:
    """Register the run's generator folder (safetensors + recipe, no pickle) as a version."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name)
    source = f"{client.get_run(run_id).info.artifact_uri}/{GENERATOR_DIR}"
    client.create_model_version(name, source=source, run_id=run_id)


def download_generator(ref: str, uri: str, dst: Path) -> Path | None:
    """Download the generator folder of run id ``ref`` (or ``models:/NAME/VERSION``)."""
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).is_file():
        return None  # no local store: do not create an empty one
    check_server(uri, "--tracking-uri")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        if ref.startswith("models:/"):
            name, _, version = ref[len("models:/"):].partition("/")
            source = client.get_model_version_download_uri(name, version)
            return Path(download_artifacts(artifact_uri=source, dst_path=str(dst)))
        return Path(client.download_artifacts(ref, GENERATOR_DIR, str(dst)))
    except (MlflowException, OSError):
        return None
