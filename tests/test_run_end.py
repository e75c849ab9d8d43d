"""However a run ends, its MLflow run is closed with the matching status."""
from __future__ import annotations

import sys
import types

import pytest
from mlflow.tracking import MlflowClient

from ganrun import hookimpl
from ganrun.cli import main


def install(monkeypatch, name, **hooks):
    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(module, hook, hookimpl(fn))
    monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setenv("GANRUN_PLUGINS", name)


def only_run(workdir):
    client = MlflowClient(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")
    (exp,) = [e for e in client.search_experiments() if e.name == "tiny"]
    (run,) = client.search_runs([exp.experiment_id])
    return run


def _boom(run, losses):
    if run.step == 2:
        raise RuntimeError("boom")


def _interrupt(run, losses):
    if run.step == 2:
        raise KeyboardInterrupt


def test_a_crash_marks_the_run_failed(tiny_recipe, workdir, monkeypatch):
    install(monkeypatch, "crashing_plugin", ganrun_step_end=_boom)
    with pytest.raises(RuntimeError, match="boom"):
        main([str(tiny_recipe()), "track.register_model=false"])
    assert only_run(workdir).info.status == "FAILED"


def test_ctrl_c_marks_the_run_killed(tiny_recipe, workdir, monkeypatch):
    install(monkeypatch, "interrupting_plugin", ganrun_step_end=_interrupt)
    assert main([str(tiny_recipe())]) == 130
    run = only_run(workdir)
    assert run.info.status == "KILLED" and run.data.tags["ganrun.status"] == "KILLED"


def _sigterm(run, losses):
    import os
    import signal

    if run.step == 2:
        os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_marks_the_run_killed(tiny_recipe, workdir, monkeypatch):
    install(monkeypatch, "terminating_plugin", ganrun_step_end=_sigterm)
    assert main([str(tiny_recipe())]) == 143  # 128 + SIGTERM, after the next step
    assert only_run(workdir).info.status == "KILLED"


def _stop(run, losses):
    if run.step == 6:  # epoch 2 of 4-step epochs
        run.request_stop("loss is NaN at step 6")


def test_a_stop_request_ends_failed_with_exit_3_keeping_the_last_checkpoint(
        tiny_recipe, workdir, monkeypatch):
    import json
    from pathlib import Path

    install(monkeypatch, "stopping_plugin", ganrun_step_end=_stop)
    assert main([str(tiny_recipe(epochs=3)), "--summary-json", "s.json"]) == 3
    run = only_run(workdir)
    assert run.info.status == "FAILED" and "NaN" in run.data.tags["ganrun.stop_reason"]
    out = Path(json.loads((workdir / "s.json").read_text())["output_dir"])
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["ckpt-epoch0001.pt"]
    assert not (out / "generator").exists()
