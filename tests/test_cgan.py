"""The cgan plugin: conditioning, class-conditional sampling, export and reload, cond_acc."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient
from PIL import Image

from ganrun.cli import main
from ganrun.engine import build_trainer
from ganrun.recipe import load_recipe
from tests.conftest import RECIPES, train_once

TINY = ["model.g_widths=[16,8,4]", "model.d_widths=[4,8]", "data.limit=256",
        "train.batch_size=64", "train.epochs=2", "train.threads=1",
        "metrics.every=1", "metrics.samples=30"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    work = tmp_path_factory.mktemp("cgan")
    return work, train_once(work, [str(RECIPES / "cgan_mnist.yaml"), *TINY])


def test_the_label_conditions_both_networks(registry):
    from ganrun.plugins import get_plugin_manager

    recipe = load_recipe(RECIPES / "cgan_mnist.yaml", TINY, registry=registry)
    trainer = build_trainer(recipe, get_plugin_manager(), registry, torch.device("cpu"))
    G, D = trainer.G.eval(), trainer.D.eval()
    z = torch.randn(4, 100)
    threes, fives = G(z, torch.full((4,), 3)), G(z, torch.full((4,), 5))
    assert not torch.allclose(threes, fives)
    assert not torch.allclose(D(threes, torch.full((4,), 3)), D(threes, torch.full((4,), 5)))
    from ganrun_plugins.dcgan.method import DCGANTrainer
    assert isinstance(trainer, DCGANTrainer)  # the two-tape step is dcgan's, not a copy


def test_epoch_grid_has_one_row_per_digit(trained):
    work, s = trained
    grid = Image.open(Path(s["output_dir"]) / "images" / "image_at_epoch_0002.png")
    cell = 28 * 3 + 2
    assert grid.size == (10 * cell + 2, 10 * cell + 2)  # 10 seeds x 10 classes


def test_cond_acc_is_logged_each_evaluation(trained):
    work, s = trained
    assert 0.0 <= s["metrics"]["eval/cond_acc"] <= 1.0
    client = MlflowClient(f"sqlite:///{work / 'mlruns' / 'mlflow.db'}")
    steps = [m.step for m in client.get_metric_history(s["run_id"], "eval/cond_acc")]
    assert steps == [1, 2]


def test_sample_a_digit_a_grid_of_all_and_raw_npz(trained, monkeypatch):
    work, s = trained
    monkeypatch.chdir(work)
    assert main(["sample", s["generator"], "--label", "7", "--n", "16", "--seed", "0",
                 "--out", "sevens.png"]) == 0
    assert Image.open("sevens.png").size == (4 * 86 + 2, 4 * 86 + 2)
    assert main(["sample", s["generator"], "--n", "5", "--out", "all.png"]) == 0
    assert Image.open("all.png").size == (5 * 86 + 2, 10 * 86 + 2)  # 10 rows of 5
    assert main(["sample", s["generator"], "--n", "5", "--out", "all.npz"]) == 0
    raw = np.load("all.npz")
    assert raw["images"].shape == (50, 1, 28, 28) and raw["images"].dtype == np.float32
    assert raw["images"].min() >= -1 and raw["images"].max() <= 1
    assert raw["labels"].tolist() == [c for c in range(10) for _ in range(5)]


def test_label_out_of_range_exits_2(trained, capsys):
    work, s = trained
    assert main(["sample", s["generator"], "--label", "10", "--out", str(work / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "ganrun: error: --label: 10 is not a class of this generator (0 to 9)"


def test_exported_generator_draws_the_same_digits_in_a_fresh_process(trained, tmp_path):
    work, s = trained
    assert main(["sample", s["generator"], "--label", "3", "--n", "8", "--out",
                 str(tmp_path / "here.npz")]) == 0
    done = subprocess.run([sys.executable, "-m", "ganrun.cli", "sample", s["generator"],
                           "--label", "3", "--n", "8", "--out", "there.npz"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    here, there = np.load(tmp_path / "here.npz"), np.load(tmp_path / "there.npz")
    assert np.array_equal(here["images"], there["images"])  # one machine, same weights and seed
    assert here["labels"].tolist() == [3] * 8
