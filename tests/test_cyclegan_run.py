"""CycleGAN through the CLI on a tiny setting: metrics and grids, kill -9 mid-epoch and
resume to the same weights, ganrun translate, ganrun import, and the refusals."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from tests.conftest import RECIPES, train_once
from ganrun.checkpoint import load_checkpoint
from ganrun.cli import main

TINY = f"""\
extends: {RECIPES / 'cyclegan_mnist_strokes.yaml'}
data:
  limit: 16
model:
  ngf: 4
  ndf: 4
  pool_size: 4
  n_epochs: 1
  n_epochs_decay: 2
  preview: 2
train:
  epochs: 3
  batch_size: 2
  checkpoint_every: 1
  threads: 1
metrics:
  every: 1
  samples: 10
"""

KILLER = '''
import os, signal
from ganrun import hookimpl

@hookimpl
def ganrun_step_end(run, losses):
    if run.step == 20:  # epoch 3 of 8-step epochs: mid-epoch, the last checkpoint is epoch 2's
        os.kill(os.getpid(), signal.SIGKILL)
'''


def ganrun(args, cwd, **env):
    full = {**os.environ, **env, "PYTHONPATH": str(cwd)}
    return subprocess.run([sys.executable, "-m", "ganrun.cli", *args], cwd=cwd, env=full,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    work = tmp_path_factory.mktemp("cyclegan")
    (work / "tiny.yaml").write_text(TINY)
    return work, train_once(work, ["tiny.yaml", "track.enabled=false"])


def test_run_logs_translation_metrics_grids_and_both_generators(trained):
    work, s = trained
    assert s["status"] == "FINISHED"
    for key in ("eval/class_kept_AB", "eval/domain_AB", "eval/cycle_l1_AB", "eval/class_kept_BA",
                "eval/domain_BA", "epoch/cycle_A", "epoch/idt_B", "epoch/disc_A"):
        assert 0 <= s["metrics"][key] < 100, key
    gen = Path(s["generator"])
    assert sorted(p.name for p in gen.glob("*.safetensors")) == ["genAB.safetensors",
                                                                "genBA.safetensors"]
    grid = Image.open(Path(s["output_dir"]) / "images" / "image_at_epoch_0003.png")
    assert grid.size[0] < grid.size[1]  # 3 columns (real, fake, reconstructed), 4 rows


def test_kill_mid_epoch_then_resume_gives_the_uninterrupted_weights(trained, tmp_path):
    work, straight = trained
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "killer.py").write_text(KILLER)
    killed = ganrun(["tiny.yaml", "track.enabled=false"], tmp_path, GANRUN_PLUGINS="killer")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (run_dir,) = (tmp_path / "runs" / "tiny").iterdir()
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("*.pt")) == [
        "ckpt-epoch0001.pt", "ckpt-epoch0002.pt"]
    state = load_checkpoint(run_dir / "checkpoints" / "ckpt-epoch0002.pt")
    extra = state["trainer"]["extra"]
    assert len(extra["pools"]["fakeA"]["images"]) == 4  # the pools are saved, full
    assert state["trainer"]["schedulers"]["gen"]["last_epoch"] == 2

    resumed = ganrun(["tiny.yaml", "track.enabled=false", "--resume", "latest",
                      "--summary-json", "s.json"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    for name in ("genAB", "genBA"):
        a = load_file(Path(s["generator"]) / f"{name}.safetensors")
        b = load_file(Path(straight["generator"]) / f"{name}.safetensors")
        # exact: both runs train on this machine, with the same kernels in the same order
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_the_run_report_gives_health_through_the_engine_like_every_method(tmp_path):
    """No cyclegan code prints health: the health plugin judges every method's run and the
    report ends with `health: ok`, or the status and each alarm raised while it trained."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    report = {}
    for name, extra in (("default", []),  # judged with the default thresholds
                        ("forced", ["health.eval_grace=0", "health.spread_ratio_min=1.0"])):
        done = ganrun(["tiny.yaml", "track.enabled=false", "--summary-json", f"{name}.json",
                       *extra], tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        metrics = json.loads((tmp_path / f"{name}.json").read_text())["metrics"]
        status = ("ok", "warning", "failed")[int(metrics["health/status"])]
        raised = [line for line in done.stderr.splitlines() if line.startswith("health: ")]
        listed = [line[4:] for line in done.stdout.splitlines() if line.startswith("    health: ")]
        assert f"\n  health: {status}\n" in done.stdout
        assert listed == raised and (status == "ok") == (not raised)
        report[name] = done.stdout
    # any translation narrower than its inputs is "input ignored" now, from the first epoch
    assert "    health: FAILED mode collapse: input ignored: 'spread_AB' far below the " \
           "inputs' spread at epoch 1 [" in report["forced"]


def test_translate_a_folder_both_ways(trained, tmp_path, capsys):
    work, s = trained
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(2):
        Image.new("L", (28, 28), color=40 * i).save(inputs / f"digit{i}.png")
    (inputs / "notes.txt").write_text("not an image")
    outputs = {}
    for option, target in (("--to", "AtoB"), ("--to", "A"), ("--direction", "BtoA")):
        out = tmp_path / target
        assert main(["translate", s["generator"], option, target, "--input",
                     str(inputs), "--out", str(out)]) == 0
        written = sorted(out.iterdir())
        assert [p.name for p in written] == ["digit0.png", "digit1.png"]
        assert Image.open(written[0]).size == (28, 28)
        outputs[target] = [np.asarray(Image.open(p)) for p in written]
    # each direction runs its own generator: --to A is BtoA (genBA), not AtoB (genAB)
    assert all((a == b).all() for a, b in zip(outputs["A"], outputs["BtoA"]))
    assert not all((a == b).all() for a, b in zip(outputs["AtoB"], outputs["BtoA"]))
    one = Path(s["generator"]) / "genBA.safetensors"  # a single file finds its sibling
    assert main(["translate", str(one), "--to", "AtoB", "--input",
                 str(inputs / "digit0.png"), "--out", str(tmp_path / "one")]) == 0
    assert (np.asarray(Image.open(tmp_path / "one" / "digit0.png")) == outputs["AtoB"][0]).all()


def test_a_missing_sibling_generator_is_named(trained, tmp_path, capsys):
    work, s = trained
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(Path(s["generator"]) / "genAB.safetensors", alone)
    image = tmp_path / "x.png"
    Image.new("L", (28, 28)).save(image)
    argv = ["translate", str(alone / "genAB.safetensors"), "--input", str(image), "--out",
            str(tmp_path / "o")]
    assert main([*argv, "--to", "AtoB"]) == 0  # genAB alone translates to B
    assert main([*argv, "--to", "BtoA"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{alone / 'genBA.safetensors'}: generator 'genBA' not found" in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("args, message", [
    (["--to", "LtoR"], "--to: unknown target 'LtoR' (known: AtoB, BtoA, B, A)"),
    (["--input", "missing.png"], "--input: missing.png not found"),
])
def test_translate_refusals(trained, tmp_path, capsys, args, message):
    work, s = trained
    image = tmp_path / "x.png"
    Image.new("L", (28, 28)).save(image)
    base = {"--to": "AtoB", "--input": str(image), "--out": str(tmp_path / "o")}
    base.update(dict(zip(args[::2], args[1::2])))
    argv = ["translate", s["generator"]] + [x for kv in base.items() for x in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_sampling_a_translator_is_refused(trained, tmp_path, capsys):
    work, s = trained
    assert main(["sample", s["generator"], "--out", str(tmp_path / "x.png")]) == 2
    assert "use ganrun translate MODEL --to AtoB" in capsys.readouterr().err


def test_import_command_then_translate(tmp_path, capsys):
    from ganrun_plugins.cyclegan.networks import ResnetGenerator

    torch.save(ResnetGenerator(3, 3, ngf=4, n_blocks=6).state_dict(), tmp_path / "latest_net_G.pth")
    out = tmp_path / "h2z.safetensors"
    assert main(["import", "cyclegan-official", str(tmp_path / "latest_net_G.pth"),
                 "--out", str(out)]) == 0
    Image.new("RGB", (40, 30), (200, 100, 50)).save(tmp_path / "horse.jpg")
    assert main(["translate", str(out), "--to", "AtoB", "--input",
                 str(tmp_path / "horse.jpg"), "--out", str(tmp_path / "zebra")]) == 0
    assert Image.open(tmp_path / "zebra" / "horse.png").size == (256, 256)
    assert main(["translate", str(out), "--to", "BtoA", "--input",
                 str(tmp_path / "horse.jpg"), "--out", str(tmp_path / "x")]) == 2
    assert "genBA.safetensors: generator 'genBA' not found beside h2z.safetensors (which " \
           "holds genAB)" in capsys.readouterr().err
    assert main(["import", "nope", "x.pth", "--out", "y.safetensors"]) == 2
    assert "FORMAT: unknown importer 'nope'" in capsys.readouterr().err
