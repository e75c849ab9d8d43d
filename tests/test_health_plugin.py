"""The health plugin in a real run: a NaN stops it at once with exit code 3."""
from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

from mlflow.tracking import MlflowClient

from ganrun import hookimpl
from ganrun.cli import main


def _poison(run, losses):
    if run.step == 6:  # epoch 2 of 4-step epochs: the next step's losses are NaN
        with __import__("torch").no_grad():
            run.trainer.G.fc.weight.fill_(math.nan)


def test_nan_stops_the_run_failed_exit_3_keeping_the_last_good_checkpoint(
        tiny_recipe, workdir, monkeypatch, capsys):
    module = types.ModuleType("poisoning_plugin")
    module.ganrun_step_end = hookimpl(_poison)
    monkeypatch.setitem(sys.modules, "poisoning_plugin", module)
    monkeypatch.setenv("GANRUN_PLUGINS", "poisoning_plugin")

    assert main([str(tiny_recipe(epochs=3)), "--summary-json", "s.json"]) == 3
    err = capsys.readouterr().err
    assert "health: FAILED" in err and "is NaN at step" in err  # step 6 (weights) or 7 (losses)
    s = json.loads((workdir / "s.json").read_text())
    assert s["status"] == "FAILED"
    out = Path(s["output_dir"])
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["ckpt-epoch0001.pt"]
    run = MlflowClient(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}").get_run(s["run_id"])
    assert run.info.status == "FAILED"
    assert run.data.tags["health.status"] == "failed"
    assert "NaN" in run.data.tags["health.alarms"] and "NaN" in run.data.tags["ganrun.stop_reason"]


def test_a_healthy_run_is_tagged_ok_and_logs_the_monitors_statistics(tiny_recipe, workdir):
    assert main([str(tiny_recipe(epochs=1)), "--summary-json", "s.json"]) == 0
    s = json.loads((workdir / "s.json").read_text())
    assert s["metrics"]["health/status"] == 0.0
    run = MlflowClient(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}").get_run(s["run_id"])
    assert run.data.tags["health.status"] == "ok"
