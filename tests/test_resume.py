"""SIGKILL mid-run, then --resume: the run finishes in the same MLflow run, every epoch's
metrics present once, and the weights equal those of a run that was never interrupted."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient
from safetensors.torch import load_file

KILLER = '''
import os, signal
from ganrun import hookimpl

@hookimpl
def ganrun_epoch_start(run, epoch, steps):
    if epoch == 4:  # after epoch 3 was logged, but the last checkpoint is epoch 2's
        os.kill(os.getpid(), signal.SIGKILL)
'''


def ganrun(args, cwd, **env):
    full = {**os.environ, **env, "PYTHONPATH": str(cwd)}
    return subprocess.run([sys.executable, "-m", "ganrun.cli", *args], cwd=cwd, env=full,
                          capture_output=True, text=True)


def test_kill_then_resume_latest(tiny_recipe, workdir):
    recipe = str(tiny_recipe(epochs=5, every=2))
    (workdir / "killer.py").write_text(KILLER)

    killed = ganrun([recipe], workdir, GANRUN_PLUGINS="killer")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (run_dir,) = (workdir / "runs" / "tiny").iterdir()
    assert [p.name for p in (run_dir / "checkpoints").glob("*.pt")] == ["ckpt-epoch0002.pt"]

    resumed = ganrun([recipe, "--resume", "latest", "--summary-json", "s.json"], workdir)
    assert resumed.returncode == 0, resumed.stderr
    s = json.loads((workdir / "s.json").read_text())
    assert s["status"] == "FINISHED" and Path(s["output_dir"]) == run_dir

    client = MlflowClient(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")
    (exp,) = [e for e in client.search_experiments() if e.name == "tiny"]
    (run,) = client.search_runs([exp.experiment_id])  # the same MLflow run, not a new one
    assert run.info.run_id == s["run_id"] and run.info.status == "FINISHED"
    epochs = [m.step for m in client.get_metric_history(s["run_id"], "epoch/gen")]
    assert sorted(epochs) == [1, 2, 3, 4, 5]
    steps = [m.step for m in client.get_metric_history(s["run_id"], "loss/disc")]
    assert sorted(steps) == list(range(1, 21))

    # the same recipe never interrupted gives the same generator: resume restores everything
    straight = ganrun([recipe, "track.enabled=false", "--summary-json", "t.json"], workdir)
    assert straight.returncode == 0, straight.stderr
    t = json.loads((workdir / "t.json").read_text())
    a, b = load_file(s["generator"]), load_file(t["generator"])
    # exact: both runs train on this machine, with the same kernels in the same order
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)

    again = ganrun([recipe, "--resume", "latest"], workdir)
    assert again.returncode == 2 and "no unfinished run" in again.stderr


DRAWER = '''
import torch
from ganrun import hookimpl

@hookimpl
def ganrun_run_start(run):
    torch.rand(1000)  # what building an evaluator's network does to the global RNG
'''


def test_run_start_hooks_do_not_move_the_training_rng(tiny_recipe, workdir):
    # a plugin setting up at run start (an evaluator built, then its weights loaded) would
    # shift every later draw, and a resumed run, which sets up again after restoring the
    # checkpoint's RNG, would then train differently from an uninterrupted one
    from tests.conftest import train_once

    recipe = str(tiny_recipe(epochs=1))
    plain = train_once(workdir, [recipe, "track.enabled=false"])
    (workdir / "drawer.py").write_text(DRAWER)
    os.environ["GANRUN_PLUGINS"], sys.path[:0] = "drawer", [str(workdir)]
    try:
        drawn = train_once(workdir, [recipe, "track.enabled=false"])
    finally:
        del os.environ["GANRUN_PLUGINS"]
        sys.path.remove(str(workdir))
    a, b = load_file(plain["generator"]), load_file(drawn["generator"])
    assert all((a[k] == b[k]).all() for k in a)  # exact: both trained here, same kernels
