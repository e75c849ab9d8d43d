"""The shipped strokes_mnist evaluator: thin (0) or thick (1) strokes; accuracy and retraining."""
from __future__ import annotations

import hashlib
import json

import pytest
import torch

from ganrun.errors import UserError
from ganrun.evaluators import strokes
from ganrun.evaluators.shipped import accuracy


@pytest.fixture(scope="module")
def net():
    from ganrun.plugins import get_plugin_manager
    from ganrun.registry import Registry

    return Registry.from_hooks(get_plugin_manager().hook).evaluator("strokes_mnist").load()


@pytest.fixture(scope="module")
def info() -> dict:
    return json.loads((strokes.WEIGHTS_DIR / strokes.INFO_FILE).read_text())


def test_interface(net):
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    assert net.num_classes == 2 and not net.training
    assert not any(p.requires_grad for p in net.parameters())
    assert net.logits(x).shape == (5, 2)
    assert net.features(x).shape == (5, net.num_features)


def test_accuracy_on_test_digits_made_thin_and_thick(net, info):
    images, classes = strokes.thin_and_thick("test")
    assert len(images) == 2000 and classes.tolist().count(strokes.THICK) == 1000
    acc = accuracy(net, images, classes)
    assert acc >= 0.95
    assert acc == pytest.approx(info["test_accuracy"], abs=0.001)


def test_shipped_files(info):
    weights = strokes.WEIGHTS_DIR / strokes.WEIGHTS_FILE
    assert weights.stat().st_size < 100 * 1024
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == info["weights_sha256"]
    assert info["command"] == "ganrun evaluator train strokes_mnist"
    assert info["train_time_s"] < 60


def test_missing_weights_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setattr(strokes, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(UserError, match="ganrun evaluator train strokes_mnist"):
        strokes.load_strokes_mnist()


def test_retrain_gives_the_same_weights(tmp_path, info):
    threads, rng = torch.get_num_threads(), torch.get_rng_state()
    got = strokes.train_strokes_mnist(tmp_path)
    assert got["weights_sha256"] == info["weights_sha256"]  # bit-identical, ~20 s on one thread
    assert got["test_accuracy"] == info["test_accuracy"]
    assert json.loads((tmp_path / strokes.INFO_FILE).read_text()) == got
    assert torch.get_num_threads() == threads  # restored
    assert torch.equal(torch.get_rng_state(), rng)  # caller's RNG untouched
