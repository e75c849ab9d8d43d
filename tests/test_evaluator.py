"""The shipped lenet_mnist evaluator: interface, accuracy, provenance and reproducible retraining."""
from __future__ import annotations

import hashlib
import json

import pytest
import torch

from ganrun.data.mnist import Mnist5kConfig, load_mnist5k
from ganrun.errors import UserError
from ganrun.evaluators import lenet


@pytest.fixture(scope="module")
def net():
    from ganrun.plugins import get_plugin_manager
    from ganrun.registry import Registry

    return Registry.from_hooks(get_plugin_manager().hook).evaluator("lenet_mnist").load()


@pytest.fixture(scope="module")
def info() -> dict:
    return json.loads((lenet.WEIGHTS_DIR / lenet.INFO_FILE).read_text())


@pytest.fixture(scope="module")
def test_split():
    return load_mnist5k(Mnist5kConfig(), "test")


def test_interface(net):
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    assert net.num_classes == 10 and 64 <= net.num_features <= 128
    assert not net.training
    assert not any(p.requires_grad for p in net.parameters())
    assert net.logits(x).shape == (5, 10)
    assert net.features(x).shape == (5, net.num_features)
    assert torch.equal(net(x), net.logits(x))


def test_accuracy_matches_json(net, info, test_split):
    acc = lenet.accuracy(net, test_split.images, test_split.labels)
    assert len(test_split) == 1000
    assert acc >= 0.97
    assert acc == pytest.approx(info["test_accuracy"], abs=0.001)


def test_shipped_files(info):
    weights = lenet.WEIGHTS_DIR / lenet.WEIGHTS_FILE
    assert weights.stat().st_size < 2 * 1024 * 1024
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == info["weights_sha256"]
    assert info["command"] == "ganrun evaluator train lenet_mnist"
    for key in ("data", "seed", "epochs", "optimiser", "augmentation", "train_time_s", "torch"):
        assert key in info


def test_missing_weights_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setattr(lenet, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(UserError, match="ganrun evaluator train lenet_mnist"):
        lenet.load_lenet_mnist()


def test_random_shift_keeps_shape_and_range():
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    y = lenet.random_shift(x, 2, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    assert torch.equal(lenet.random_shift(x, 0, torch.Generator()), x)


def test_retrain_reproduces_accuracy(tmp_path, info):
    threads = torch.get_num_threads()
    rng = torch.get_rng_state()
    got = lenet.train_lenet_mnist(tmp_path)
    assert got["test_accuracy"] == pytest.approx(info["test_accuracy"], abs=0.005)
    assert json.loads((tmp_path / lenet.INFO_FILE).read_text()) == got
    assert (tmp_path / lenet.WEIGHTS_FILE).is_file()
    assert torch.get_num_threads() == threads  # restored
    assert torch.equal(torch.get_rng_state(), rng)  # caller's RNG untouched
