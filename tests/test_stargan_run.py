"""StarGAN through the CLI on a tiny setting of the embedded recipe (two datasets through the
mask vector): metrics and grid, kill -9 mid-epoch and resume to the same weights, ganrun
translate to attributes and classes, and the refusals."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from ganrun.checkpoint import load_checkpoint
from ganrun.cli import main
from tests.conftest import RECIPES, train_once

TINY = f"""\
extends: {RECIPES / 'stargan_mnist_domains.yaml'}
data:
  attributes: {{limit: 24}}
  styles: {{limit: 16}}
model:
  g_conv_dim: 4
  d_conv_dim: 4
  g_repeat_num: 1
  n_critic: 2
  num_iters_decay: 4
  preview: 2
train:
  epochs: 3
  batch_size: 4
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
    if run.step == 15:  # epoch 3 of 6-step epochs, mid-epoch; G stepped last at step 14
        os.kill(os.getpid(), signal.SIGKILL)
'''


def ganrun(args, cwd, **env):
    full = {**os.environ, **env, "PYTHONPATH": str(cwd)}
    return subprocess.run([sys.executable, "-m", "ganrun.cli", *args], cwd=cwd, env=full,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    work = tmp_path_factory.mktemp("stargan")
    (work / "tiny.yaml").write_text(TINY)
    return work, train_once(work, ["tiny.yaml", "track.enabled=false"])


def test_run_measures_every_target_and_exports_one_generator(trained):
    work, s = trained
    assert s["status"] == "FINISHED"
    for key in ("eval/attr_acc", "eval/attr_acc_attributes", "eval/attr_acc_styles",
                "eval/class_kept"):
        assert 0.0 <= s["metrics"][key] <= 1.0, key
        # beside each, its baseline on the untranslated inputs (the health monitors read both)
        assert 0.0 <= s["metrics"][key.replace("eval/", "real/")] <= 1.0, key
    assert s["metrics"]["real/class_kept"] > 0.5  # lenet_mnist32 reads the untouched digits
    assert s["metrics"]["eval/spread"] > 0.0 and s["metrics"]["real/spread"] > 0.1
    for key in ("epoch/d_loss", "epoch/w_distance", "epoch/gp", "epoch/g_rec", "epoch/g_cls"):
        assert np.isfinite(s["metrics"][key]), key
    assert sorted(p.name for p in Path(s["generator"]).parent.glob("*.safetensors")) == \
        ["G.safetensors"]
    grid = Image.open(Path(s["output_dir"]) / "images" / "image_at_epoch_0003.png")
    # rows: 2 kept images of each dataset; columns: the input, 5 attributes, 4 styles
    assert grid.size == (10 * (3 * 32 + 2) + 2, 4 * (3 * 32 + 2) + 2)


def test_kill_mid_epoch_then_resume_gives_the_uninterrupted_weights(trained, tmp_path):
    work, straight = trained
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "killer.py").write_text(KILLER)
    killed = ganrun(["tiny.yaml", "track.enabled=false"], tmp_path, GANRUN_PLUGINS="killer")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (run_dir,) = (tmp_path / "runs" / "tiny").iterdir()
    state = load_checkpoint(run_dir / "checkpoints" / "ckpt-epoch0002.pt")
    assert state["trainer"]["extra"]["iteration"] == 12  # the critic phase: 12 % n_critic
    assert state["trainer"]["schedulers"]["G"]["last_epoch"] == 12  # stepped per iteration

    resumed = ganrun(["tiny.yaml", "track.enabled=false", "--resume", "latest",
                      "--summary-json", "s.json"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    a, b = load_file(s["generator"]), load_file(straight["generator"])
    # exact: both runs train on this machine, with the same kernels in the same order
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture
def digits(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        pixels = np.zeros((32, 32, 3), dtype=np.uint8)
        pixels[8:24, 12 + i : 16 + i] = 255
        Image.fromarray(pixels).save(folder / f"digit{i}.png")
    return folder


def test_translate_to_attributes_and_to_a_class(trained, digits, tmp_path):
    work, s = trained
    outputs = {}
    for target in ("thick=1,slanted=0", "thick=1", "styles=framed", "red=1"):
        out = tmp_path / target.replace("=", "_").replace(",", "_")
        assert main(["translate", s["generator"], "--to", target, "--input", str(digits),
                     "--out", str(out)]) == 0
        files = sorted(out.iterdir())
        assert [p.name for p in files] == ["digit0.png", "digit1.png", "digit2.png"]
        outputs[target] = np.stack([np.asarray(Image.open(p)) for p in files])
        assert outputs[target].shape == (3, 32, 32, 3)
    # attributes not named are 0: "thick=1" is "thick=1,slanted=0" with no colour
    assert (outputs["thick=1"] == outputs["thick=1,slanted=0"]).all()
    assert not (outputs["thick=1"] == outputs["styles=framed"]).all()
    assert not (outputs["thick=1"] == outputs["red=1"]).all()


@pytest.mark.parametrize("target, message", [
    ("bald=1", "--to: unknown attribute or dataset 'bald' (known: thick, slanted, red, green, "
               "blue; styles=plain|striped|shadowed|framed)"),
    ("styles=smiling", "--to: 'smiling' is not a class of styles"),
    ("thick=1,styles=plain", "--to: unknown attribute or dataset 'styles'"),
])
def test_a_bad_target_is_one_line_naming_the_known_ones(trained, digits, tmp_path, capsys,
                                                        target, message):
    work, s = trained
    out = tmp_path / "o"
    assert main(["translate", s["generator"], "--to", target, "--input", str(digits),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_sampling_a_translator_is_refused(trained, tmp_path, capsys):
    work, s = trained
    assert main(["sample", s["generator"], "--out", str(tmp_path / "x.png")]) == 2
    assert "use ganrun translate MODEL --to" in capsys.readouterr().err


def test_missing_celeba_files_are_one_line(workdir, capsys):
    assert main([str(RECIPES / "stargan_celeba.yaml"), "data.root=nowhere/images"]) == 2
    err = capsys.readouterr().err.strip()
    assert "data.root" in err and "nowhere/images" in err and len(err.splitlines()) == 1
    assert not (workdir / "runs").exists()
