"""The shipped lenet_mnist evaluator: interface, accuracy, provenance and reproducible retraining."""
from __future__ import annotations

import hashlib
import json

import pytest
import torch

from ganrun.data.mnist import Mnist5kConfig, load_mnist5k
from ganrun.errors import UserError
from ganrun.evaluators import lenet
from tests.conftest import RETRAIN_MAY_CHANGE, fragile_predictions


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
    assert torch.equal(net(x), net.logits(x))  # forward is logits: one computation, here


def test_accuracy_matches_json(net, info, test_split):
    acc = lenet.accuracy(net, test_split.images, test_split.labels)
    assert len(test_split) == 1000
    assert acc >= 0.97
    # The weights are the shipped file's, so only float error in inference differs between
    # CPUs (~1e-6 here): a prediction can flip only where its top two logits nearly tie.
    fragile = fragile_predictions(net, test_split.images)
    assert abs(acc - info["test_accuracy"]) <= fragile / len(test_split) + 1e-9


def test_shipped_files(info):
    weights = lenet.WEIGHTS_DIR / lenet.WEIGHTS_FILE
    assert weights.stat().st_size < 2 * 1024 * 1024
    # holds everywhere: the file and its recorded hash ship together; no float is recomputed
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == info["weights_sha256"]
    assert info["command"] == "ganrun evaluator train lenet_mnist"
    for key in ("data", "seed", "epochs", "optimiser", "augmentation", "train_time_s", "torch"):
        assert key in info
    tolerance = info["reproducibility"]["test_accuracy_tolerance"]
    assert tolerance == lenet.ACCURACY_TOLERANCE and 0 < tolerance <= 0.02
    assert "largest deviation" in info["reproducibility"]["evidence"]


def test_missing_weights_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setattr(lenet, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(UserError, match="ganrun evaluator train lenet_mnist"):
        lenet.load_lenet_mnist()


def test_random_shift_keeps_shape_and_range():
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    y = lenet.random_shift(x, 2, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    assert torch.equal(lenet.random_shift(x, 0, torch.Generator()), x)  # a copy, no arithmetic


@pytest.fixture(scope="module")
def retrains(tmp_path_factory):
    """The recipe trained twice on this machine, and the caller's threads and RNG after."""
    threads, rng = torch.get_num_threads(), torch.get_rng_state()
    folders = [tmp_path_factory.mktemp(name) for name in ("first", "second")]
    infos = [lenet.train_lenet_mnist(folder) for folder in folders]
    return folders, infos, threads, rng


def test_retraining_is_deterministic_on_one_machine(retrains):
    (first, second), (a, b), threads, rng = retrains
    # both made here, by the same kernels in the same order: bit-identical on any machine
    weights = [(f / lenet.WEIGHTS_FILE).read_bytes() for f in (first, second)]
    assert weights[0] == weights[1] and a["weights_sha256"] == b["weights_sha256"]
    assert a["test_accuracy"] == b["test_accuracy"]
    assert json.loads((first / lenet.INFO_FILE).read_text()) == a
    assert torch.get_num_threads() == threads  # restored
    assert torch.equal(torch.get_rng_state(), rng)  # caller's RNG untouched


def test_retrain_reaches_the_shipped_quality(retrains, info):
    # Another CPU trains along another float path: compare quality, within the tolerance the
    # JSON states and justifies, never the weights' hash.
    _, (got, _), _, _ = retrains
    tolerance = info["reproducibility"]["test_accuracy_tolerance"]
    assert abs(got["test_accuracy"] - info["test_accuracy"]) <= tolerance
    assert got["reproducibility"] == info["reproducibility"]
    same = [k for k in info if k not in RETRAIN_MAY_CHANGE]  # the recipe, written the same way
    assert {k: got[k] for k in same} == {k: info[k] for k in same}
