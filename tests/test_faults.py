"""Faults a long run meets: a kill inside an epoch, SIGTERM, a corrupt or truncated newest
checkpoint, a full disk, a checkpoint crafted to run code; and byte-stable exports."""
from __future__ import annotations

import errno
import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganrun.checkpoint import checkpoints, export_generator, load_checkpoint
from ganrun.cli import main
from tests.conftest import RECIPES, TINY

STEP_KILLER = '''
import os, signal
from ganrun import hookimpl

@hookimpl
def ganrun_step_end(run, losses):
    if run.step == {step}:
        os.kill(os.getpid(), signal.{signal})
'''


def ganrun(args, cwd, **env):
    full = {**os.environ, **env, "PYTHONPATH": str(cwd)}
    return subprocess.run([sys.executable, "-m", "ganrun.cli", *args], cwd=cwd, env=full,
                          capture_output=True, text=True)


def weights(summary_file: Path, name: str = "G") -> dict[str, torch.Tensor]:
    generator = Path(json.loads(summary_file.read_text())["generator"])
    return load_file(generator / f"{name}.safetensors" if generator.is_dir() else generator)


def same(a: dict, b: dict) -> bool:
    # exact: both runs train on this machine, with the same kernels in the same order
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def dcgan_recipe(folder: Path) -> Path:
    path = folder / "tiny.yaml"  # 3 epochs of 4 steps; a step checkpoint every 3 steps
    path.write_text(TINY.format(base=RECIPES / "quickstart.yaml", epochs=3, every=0)
                    .replace("  threads: 1\n", "  threads: 1\n  checkpoint_every_steps: 3\n"))
    return path


CYCLEGAN = f"""\
extends: {RECIPES / 'cyclegan_mnist_strokes.yaml'}
data: {{limit: 12}}
model: {{ngf: 4, ndf: 4, pool_size: 4, n_epochs: 1, n_epochs_decay: 2, preview: 2}}
train: {{epochs: 3, batch_size: 2, checkpoint_every: 0, checkpoint_every_steps: 4, threads: 1}}
metrics: {{every: 0}}
"""


@pytest.mark.parametrize("method, kill_at, checkpoint", [
    ("dcgan", 8, "ckpt-epoch0002-step000000006.pt"),  # epoch 2 of 4-step epochs: step 7 redone
    ("cyclegan", 17, "ckpt-epoch0003-step000000016.pt"),  # epoch 3 of 6-step epochs
])
def test_a_kill_inside_an_epoch_resumes_from_the_step_checkpoint_to_the_same_weights(
        tmp_path, method, kill_at, checkpoint):
    for folder in ("straight", "killed"):
        (tmp_path / folder).mkdir()
        if method == "dcgan":
            dcgan_recipe(tmp_path / folder)
        else:
            (tmp_path / folder / "tiny.yaml").write_text(CYCLEGAN)
    straight = ganrun(["tiny.yaml", "track.enabled=false", "--summary-json", "s.json"],
                      tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr
    work = tmp_path / "killed"
    (work / "killer.py").write_text(STEP_KILLER.format(step=kill_at, signal="SIGKILL"))
    killed = ganrun(["tiny.yaml"], work, GANRUN_PLUGINS="killer")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (run_dir,) = (work / "runs" / "tiny").iterdir()
    assert checkpoints(run_dir / "checkpoints")[-1].name == checkpoint
    state = load_checkpoint(checkpoints(run_dir / "checkpoints")[-1])
    assert state["batch"] > 0 and state["epoch_sums"]  # a position inside the epoch
    resumed = ganrun(["tiny.yaml", "--resume", "latest", "--summary-json", "s.json"], work)
    assert resumed.returncode == 0, resumed.stderr
    name = "G" if method == "dcgan" else "genAB"
    assert same(weights(work / "s.json", name), weights(tmp_path / "straight" / "s.json", name))
    if method == "dcgan":  # every step logged once, none twice, none missing
        from mlflow.tracking import MlflowClient

        client = MlflowClient(f"sqlite:///{work / 'mlruns' / 'mlflow.db'}")
        run_id = json.loads((work / "s.json").read_text())["run_id"]
        steps = sorted(m.step for m in client.get_metric_history(run_id, "loss/gen"))
        assert steps == list(range(1, 13))


def test_sigterm_checkpoints_marks_the_run_killed_and_resume_finishes_it(tmp_path):
    recipe = dcgan_recipe(tmp_path)
    (tmp_path / "term.py").write_text(STEP_KILLER.format(step=5, signal="SIGTERM"))
    done = ganrun([recipe.name], tmp_path, GANRUN_PLUGINS="term")
    assert done.returncode == 143, done.stderr
    assert "SIGTERM received" in done.stderr and "resume: ganrun tiny.yaml --resume" in done.stderr
    (run_dir,) = (tmp_path / "runs" / "tiny").iterdir()
    assert checkpoints(run_dir / "checkpoints")[-1].name == "ckpt-epoch0002-step000000006.pt"
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    (exp,) = [e for e in client.search_experiments() if e.name == "tiny"]
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "KILLED"
    resumed = ganrun([recipe.name, "--resume", "latest", "metrics.every=0"], tmp_path)  # K=V last
    assert resumed.returncode == 0, resumed.stderr
    assert client.get_run(run.info.run_id).info.status == "FINISHED"
    # checkpoints inside epochs pruned beyond the newest two files, once the new is on disk
    assert [p.name for p in checkpoints(run_dir / "checkpoints")] == [
        "ckpt-epoch0003-step000000009.pt", "ckpt-epoch0003.pt"]


def test_a_truncated_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys):
    recipe = dcgan_recipe(tmp_path)
    (tmp_path / "killer.py").write_text(STEP_KILLER.format(step=11, signal="SIGKILL"))
    ganrun([recipe.name, "track.enabled=false"], tmp_path, GANRUN_PLUGINS="killer")
    (run_dir,) = (tmp_path / "runs" / "tiny").iterdir()
    found = checkpoints(run_dir / "checkpoints")
    newest, previous = found[-1], found[-2]
    newest.write_bytes(newest.read_bytes()[:1000])  # truncated
    resumed = ganrun([recipe.name, "track.enabled=false", "--resume", "latest"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    warning = [line for line in resumed.stderr.splitlines() if "warning" in line]
    assert warning == [f"ganrun: warning: skipping checkpoint {newest.name}: corrupt or "
                       f"truncated checkpoint (checksum mismatch)"]
    assert previous.name == "ckpt-epoch0002-step000000006.pt"  # resumed from it: the
    assert load_checkpoint(newest)["step"] == 9  # truncated step 9 was written again, whole


def test_no_readable_checkpoint_is_exit_2_naming_the_folder(tmp_path, capsys):
    recipe = dcgan_recipe(tmp_path)
    (tmp_path / "killer.py").write_text(STEP_KILLER.format(step=4, signal="SIGKILL"))
    ganrun([recipe.name, "track.enabled=false"], tmp_path, GANRUN_PLUGINS="killer")
    (run_dir,) = (tmp_path / "runs" / "tiny").iterdir()
    for path in checkpoints(run_dir / "checkpoints"):
        data = bytearray(path.read_bytes())
        data[-10] ^= 0xFF  # one flipped bit, length unchanged: only the checksum tells
        path.write_bytes(bytes(data))
    os.chdir(tmp_path)
    assert main([recipe.name, "track.enabled=false", "--resume", "latest"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"ganrun: error: {run_dir / 'checkpoints'}: none of its 1 checkpoints "
                       f"is readable; start the run again without --resume")


def test_a_full_disk_stops_the_run_with_one_line_keeping_the_previous_checkpoint(
        tmp_path, monkeypatch, capsys):
    import ganrun.checkpoint as checkpoint

    recipe = dcgan_recipe(tmp_path)
    real = checkpoint.atomic_write
    writes = []

    def full_after_one(path, write):
        if path.name.startswith("ckpt"):
            writes.append(path.name)
        if path.name.startswith("ckpt") and len(writes) == 2:  # the second checkpoint: full
            def enospc(tmp):
                write(tmp)
                raise OSError(errno.ENOSPC, "No space left on device")

            return real(path, enospc)
        return real(path, write)

    monkeypatch.setattr(checkpoint, "atomic_write", full_after_one)
    monkeypatch.chdir(tmp_path)
    assert main([recipe.name, "--summary-json", "s.json"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ganrun: error: ") and "no space left on the device for the " \
        "checkpoint: it needs" in err[-1] and "MB free; nothing was overwritten" in err[-1]
    s = json.loads((tmp_path / "s.json").read_text())
    folder = Path(s["output_dir"]) / "checkpoints"
    assert [p.name for p in folder.iterdir()] == ["ckpt-epoch0001-step000000003.pt"]  # no temp
    load_checkpoint(folder / "ckpt-epoch0001-step000000003.pt")  # intact
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    assert client.get_run(s["run_id"]).info.status == "FAILED"


class _RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {_RunsCode.marker}",))


def test_a_checkpoint_crafted_to_run_code_is_refused(tmp_path, capsys):
    recipe = dcgan_recipe(tmp_path)
    (tmp_path / "killer.py").write_text(STEP_KILLER.format(step=4, signal="SIGKILL"))
    ganrun([recipe.name, "track.enabled=false"], tmp_path, GANRUN_PLUGINS="killer")
    (run_dir,) = (tmp_path / "runs" / "tiny").iterdir()
    marker = tmp_path / "code-ran"
    _RunsCode.marker = marker
    for path in checkpoints(run_dir / "checkpoints"):
        with open(path, "wb") as f:  # a plain pickle, as an old-format checkpoint would be
            pickle.dump({"format": "ganrun-checkpoint/1", "x": _RunsCode()}, f)
    os.chdir(tmp_path)
    assert main([recipe.name, "track.enabled=false", "--resume", "latest"]) == 2
    assert not marker.exists()
    err = capsys.readouterr().err
    assert "refused: it holds more than tensors and plain data, and loading it could run " \
        "code (" in err and "weights_only=False" not in err


def test_the_same_weights_and_recipe_export_the_same_bytes(tmp_path):
    net = torch.nn.Linear(3, 2)
    recipe = "method: x\nmodel: {a: 1}\n"
    a = export_generator(tmp_path / "a" / "G.safetensors", net, recipe, "G")
    code = (f"import torch\nfrom ganrun.checkpoint import export_generator\n"
            f"net = torch.nn.Linear(3, 2)\nnet.load_state_dict(torch.load({str(tmp_path / 'w.pt')!r}, weights_only=True))\n"
            f"export_generator(__import__('pathlib').Path({str(tmp_path / 'b' / 'G.safetensors')!r}),"
            f" net, {recipe!r}, 'G')\n")
    torch.save(net.state_dict(), tmp_path / "w.pt")
    for seed in ("1", "2", "3"):  # safetensors orders several metadata keys by a random hash
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "b" / "G.safetensors").read_bytes() == a.read_bytes()


def test_a_checkpoint_after_every_n_minutes_inside_epochs(tmp_path, monkeypatch):
    import types

    import ganrun.builtin.checkpointing as checkpointing
    from ganrun import hookimpl

    clock = [0.0]  # each step takes 25 s of this clock: 60 s pass during steps 3, 6, 9
    monkeypatch.setattr(checkpointing, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    saved = []
    module = types.ModuleType("slow_steps")
    module.ganrun_step_end = hookimpl(tryfirst=True)(
        lambda run, losses: clock.__setitem__(0, 25.0 * run.step))
    module.ganrun_checkpoint_saved = hookimpl(lambda run, path, epoch: saved.append(Path(path).name))
    monkeypatch.setitem(sys.modules, "slow_steps", module)
    monkeypatch.setenv("GANRUN_PLUGINS", "slow_steps")
    recipe = tmp_path / "tiny.yaml"  # 3 epochs of 4 steps; epoch checkpoints only at the end
    recipe.write_text(TINY.format(base=RECIPES / "quickstart.yaml", epochs=3, every=0))
    monkeypatch.chdir(tmp_path)
    assert main([recipe.name, "track.enabled=false", "train.checkpoint_every_minutes=1",
                 "--summary-json", "s.json"]) == 0
    assert saved == ["ckpt-epoch0001-step000000003.pt", "ckpt-epoch0002-step000000006.pt",
                     "ckpt-epoch0003-step000000009.pt", "ckpt-epoch0003.pt"]
    folder = Path(json.loads((tmp_path / "s.json").read_text())["output_dir"]) / "checkpoints"
    assert [p.name for p in checkpoints(folder)] == saved[-2:]  # older mid-epoch ones pruned
