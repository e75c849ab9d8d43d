"""Built-in plugin: tracks every run in MLflow (params, losses, grids, checkpoints, model).

The default store is a SQLite file under the working directory (``mlruns/mlflow.db``), so
tracking works offline with no server; ``track.uri`` points it at a server instead (where
the store is and how it is read: :mod:`ganrun.mlflow_store`). The experiment is filed as
model training, the run is named RECIPE-FOLDER and tagged with its method, dataset, recipe
file, seed, ganrun and plugin versions and git commit (:func:`run_tags`). Step
losses are buffered and sent with ``log_batch`` at each epoch's end, never one blocking
call per value. A resumed run continues the same MLflow run and skips values it already
holds, so every step and epoch appears once. However a run ends, its MLflow run is closed
with the matching status: FINISHED, FAILED or KILLED.

Everything goes through the run's outbox (:mod:`ganrun.tracking_outbox`), so a server that
stops answering mid-run costs the run nothing: training goes on, what the server did not
take waits in ``RUN_DIR/tracking/pending.jsonl`` and is sent at a later flush once the
server answers again (tried after a backoff of 5 s doubling to 60 s, each try first asking
``/health`` for 2 s, and once more as the run ends). What is still pending when the run
ends is named in one warning line with the command that uploads it, ``ganrun sync RUN_DIR``.
The hooks stay thin: a run this plugin does not track (``_runs`` has no entry) costs a
dictionary lookup per hook.
"""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganrun import hookimpl
from ganrun import mlflow_store as store
from ganrun import tracking_outbox as ob
from ganrun.checkpoint import GENERATOR_DIR
from ganrun.registry import CommandInfo

BATCH = 1000  # MLflow's limit of metrics per log_batch call
RETRY_FIRST_S, RETRY_MAX_S = 5.0, 60.0  # a store that failed is tried again after this backoff
PROBE_S = 2.0  # ... and only once it answers /health within this


@hookimpl
def ganrun_check_run(recipe):
    if recipe.track.enabled and recipe.track.uri:
        store.check_server(recipe.track.uri)


@hookimpl
def ganrun_register_commands():
    from ganrun.builtin import tracking_compare, tracking_runs, tracking_sync

    return [CommandInfo(name, module.add_arguments, module.run, module.__doc__.splitlines()[0])
            for name, module in (("sync", tracking_sync), ("runs", tracking_runs),
                                 ("compare", tracking_compare))]


@dataclass
class _Tracked:
    """One tracked run: its MLflow client and run id, its outbox, and the store's health."""

    client: Any
    run_id: str
    uri: str
    outbox: ob.Outbox
    logged: dict[str, int] = field(default_factory=dict)  # key -> last step already stored
    sent: ob.Counts = field(default_factory=ob.Counts)  # delivered this session (and gone)
    down_since: float | None = None  # time.monotonic() of the failure, while failing
    retry_at: float = 0.0
    delay: float = RETRY_FIRST_S
    reason: str = ""  # why the last try failed
    refused: bool = False  # ... the store answered with an error about the records

    def add(self, key: str, value: float, step: int) -> None:
        if step > self.logged.get(key, -1):
            self.outbox.add(ob.metric(key, value, step))

    def queue(self, record: dict) -> None:
        self.outbox.add(record)

    def flush(self, force: bool = False) -> None:
        """Send what is pending. While the store fails, keep it in the run folder instead,
        and try again once the backoff has passed (``force``: now) and ``/health`` answers.
        A refusal (a bad value: not worth retrying) is raised, the records kept."""
        box = self.outbox
        if not box.records:
            return
        if self.down_since is not None:
            if not force and time.monotonic() < self.retry_at:
                box.persist()
                return
            reason = store.answers(self.uri, PROBE_S)
            if reason is not None:  # still down: no slow MLflow call
                self.reason = reason
                self._backoff()
                box.persist()
                return
        try:
            ob.replay(box, self.client, self.run_id, store.register_generator, self.sent)
        except Exception as e:
            box.settle()
            if not ob.is_transient(e):
                self.reason, self.refused = _reason(e), True
                raise
            self._failed(e)
            return
        box.settle()
        self.down_since, self.delay = None, RETRY_FIRST_S

    def _failed(self, error: BaseException) -> None:
        self.reason = _reason(error)
        if self.down_since is None:
            self.down_since = time.monotonic()
            _say(f"ganrun: tracking store {self.uri} did not take the run's records "
                 f"({self.reason}); they wait in {self.outbox.path} and are sent when it "
                 f"answers again")
        self._backoff()

    def _backoff(self) -> None:
        self.retry_at = time.monotonic() + self.delay
        self.delay = min(2 * self.delay, RETRY_MAX_S)


def _reason(error: BaseException) -> str:
    """The gist of a failed call: ``[Errno 111] Connection refused``, ``timed out``, or the
    start of the message (MLflow's wrap the whole urllib3 chain into one long line)."""
    import re

    text = " ".join(str(error).split())
    found = re.search(r"\[Errno -?\d+\][^'\")]*", text)
    if found:
        return found.group(0).strip()
    if "timed out" in text or "timeout" in text.lower():
        return "timed out"
    return text[:160]


def _say(line: str) -> None:
    """One line on stderr that leaves a progress bar intact."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


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


def _already_logged(client: Any, run_id: str) -> dict[str, int]:
    keys = client.get_run(run_id).data.metrics.keys()
    return {k: max(m.step for m in client.get_metric_history(run_id, k)) for k in keys}


def run_tags(run: Any) -> dict[str, str]:
    """What a new MLflow run is tagged with: how it was made, to find and compare it later."""
    from ganrun import __version__

    recipe = run.recipe
    tags = {"ganrun.method": recipe.method, "ganrun.dataset": recipe.data.name,
            "ganrun.recipe": recipe.name, "ganrun.seed": str(recipe.train.seed),
            "ganrun.version": __version__, "ganrun.output_dir": str(run.output_dir)}
    if run.recipe_file:
        tags["ganrun.recipe_file"] = str(run.recipe_file)
    tags.update({f"ganrun.plugin.{k}": v for k, v in run.plugin_versions.items()})
    commit = _git_commit()
    if commit:  # ganrun's own tag, and the one MLflow's UI shows as the source version
        tags["ganrun.git_commit"] = tags["mlflow.source.git.commit"] = commit
    return tags


def run_name(run: Any) -> str:
    """``track.run_name``, else RECIPE-FOLDER: the recipe's name and the run folder's
    (its start time), e.g. ``quickstart-20261202-204923-b4e4de``."""
    return run.recipe.track.run_name or f"{run.recipe.name}-{run.output_dir.name}"


@hookimpl
def ganrun_run_start(run):
    recipe = run.recipe
    if not recipe.track.enabled:
        return
    from omegaconf import OmegaConf

    uri = store.tracking_uri(recipe)
    client = store.client(uri)
    if run.resumed and run.id:
        tracked = _Tracked(client, run.id, uri, ob.Outbox(run.output_dir, uri, run.id))
        tracked.flush(force=True)  # what an earlier session left pending goes first
        client.update_run(run.id, status="RUNNING")
        tracked.logged = _already_logged(client, run.id)
        exp = client.get_run(run.id).info.experiment_id
    else:
        exp = store.training_experiment(client, recipe.track.experiment or recipe.name, uri)
        mlrun = client.create_run(exp, run_name=run_name(run), tags=run_tags(run))
        run.id = mlrun.info.run_id
        tracked = _Tracked(client, run.id, uri, ob.Outbox(run.output_dir, uri, run.id))
        recipe_dict = OmegaConf.to_container(OmegaConf.create(run.recipe_yaml))
        for k, v in flatten(recipe_dict).items():
            tracked.queue(ob.param(k, v[:6000]))
        tracked.queue(ob.tag("ganrun.status", "RUNNING"))
        tracked.queue(ob.artifact(run.output_dir / "recipe.yaml", None, run.output_dir))
        tracked.flush()
    _runs[id(run)] = tracked
    run.summary["run id"] = run.id
    if store.is_server(uri):
        run.summary["MLflow UI"] = store.ui_url(uri, exp, run.id)
    else:
        run.summary["MLflow UI"] = (f"{_mlflow_command()} ui --backend-store-uri {uri}, then "
                                    f"{store.ui_url(store.DEFAULT_UI, exp, run.id)}")


@hookimpl
def ganrun_step_end(run, losses):
    tracked = _runs.get(id(run))
    if tracked is None or run.step % run.recipe.train.log_every:
        return
    for k, v in losses.items():
        tracked.add(f"loss/{k}", v, run.step)
    if tracked.outbox.fresh >= BATCH:
        tracked.flush()


@hookimpl(trylast=True)
def ganrun_epoch_end(run, report):
    tracked = _runs.get(id(run))
    if tracked is None:
        return
    for k, v in report.metrics.items():
        tracked.add(k, v, report.epoch)
    _log_tags(tracked, run.tags)
    for name, path in report.artifacts.items():  # a resumed epoch's file replaces its own
        folder = name.rpartition("/")[0] or f"{name}s"  # "grid" -> grids/; "maps/D" -> maps/
        tracked.queue(ob.artifact(path, folder, run.output_dir))
    tracked.flush()


@hookimpl
def ganrun_save_state(run):
    """Before a checkpoint: send the buffered step values (or keep them in the run folder,
    while the store fails), so the record is never behind the checkpoint."""
    tracked = _runs.get(id(run))
    if tracked is not None:
        tracked.flush()


@hookimpl
def ganrun_checkpoint_saved(run, path, epoch):
    tracked = _runs.get(id(run))
    if tracked is not None:
        tracked.queue(ob.artifact(path, "checkpoints", run.output_dir))
        tracked.flush()


@hookimpl(trylast=True)
def ganrun_run_end(run, status, error):
    tracked = _runs.pop(id(run), None)
    if tracked is None:
        return
    if status == "FINISHED" and run.generator_path:
        folder = Path(run.generator_path)
        folder = folder if folder.is_dir() else folder.parent
        tracked.queue(ob.artifact(folder, GENERATOR_DIR, run.output_dir))
        if run.recipe.track.register_model:
            tracked.queue(ob.register(run.recipe.name))
    _log_tags(tracked, run.tags)
    tracked.queue(ob.tag("ganrun.status", status))
    if run.stop_reason:
        tracked.queue(ob.tag("ganrun.stop_reason", run.stop_reason[:5000]))
    tracked.queue(ob.status(status))
    try:
        tracked.flush(force=True)
    except Exception:  # refused: still close the run with its status, then say why
        try:
            tracked.client.set_terminated(tracked.run_id, status=status)
        except Exception:
            pass
        raise
    finally:
        _report_pending(run, tracked)


def _report_pending(run: Any, tracked: _Tracked) -> None:
    """One warning line for what the store has not taken, with the command that sends it;
    one for pending artifacts that were gone from the run folder before they could be sent."""
    box = tracked.outbox
    if box.records:
        box.persist()
        what = "refused the records" if tracked.refused else "unreachable"
        _say(f"ganrun: warning: tracking store {tracked.uri} {what} ({tracked.reason}): "
             f"{box.counts().describe()} pending in {box.path}; upload them with: "
             f"ganrun sync {run.output_dir}")
    if tracked.sent.gone:
        _say(f"ganrun: warning: {len(tracked.sent.gone)} artifact(s) left the run folder before "
             f"the tracking store took them: {', '.join(tracked.sent.gone)}")


def _log_tags(tracked: _Tracked, tags: dict[str, str]) -> None:
    for k, v in tags.items():
        tracked.queue(ob.tag(k, str(v)[:5000]))
