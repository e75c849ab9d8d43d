"""The shipped strokes_mnist evaluator: thin (0) or thick (1) strokes; accuracy and retraining."""
from __future__ import annotations

import hashlib
import json

import pytest
import torch

from ganrun.errors import UserError
from ganrun.evaluators import strokes
from ganrun.evaluators.shipped import accuracy
from tests.conftest import RETRAIN_MAY_CHANGE, fragile_predictions


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
    # the shipped weights: only inference's float error differs between CPUs, which can
    # flip a prediction only where the two logits nearly tie
    assert abs(acc - info["test_accuracy"]) <= fragile_predictions(net, images) / len(images) + 1e-9


def test_shipped_files(info):
    weights = strokes.WEIGHTS_DIR / strokes.WEIGHTS_FILE
    assert weights.stat().st_size < 100 * 1024
    # holds everywhere: the file and its recorded hash ship together; no float is recomputed
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == info["weights_sha256"]
    assert info["command"] == "ganrun evaluator train strokes_mnist"
    assert info["train_time_s"] < 60
    tolerance = info["reproducibility"]["test_accuracy_tolerance"]
    assert tolerance == strokes.ACCURACY_TOLERANCE and 0 < tolerance <= 0.02


def test_missing_weights_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setattr(strokes, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(UserError, match="ganrun evaluator train strokes_mnist"):
        strokes.load_strokes_mnist()


@pytest.fixture(scope="module")
def retrains(tmp_path_factory):
    """The recipe trained twice on this machine, and the caller's threads and RNG after."""
    threads, rng = torch.get_num_threads(), torch.get_rng_state()
    folders = [tmp_path_factory.mktemp(name) for name in ("first", "second")]
    infos = [strokes.train_strokes_mnist(folder) for folder in folders]
    return folders, infos, threads, rng


def test_retraining_is_deterministic_on_one_machine(retrains):
    (first, second), (a, b), threads, rng = retrains
    # both made here, by the same kernels in the same order: bit-identical on any machine
    weights = [(f / strokes.WEIGHTS_FILE).read_bytes() for f in (first, second)]
    assert weights[0] == weights[1] and a["weights_sha256"] == b["weights_sha256"]
    assert json.loads((first / strokes.INFO_FILE).read_text()) == a
    assert torch.get_num_threads() == threads  # restored
    assert torch.equal(torch.get_rng_state(), rng)  # caller's RNG untouched


def test_retrain_reaches_the_shipped_quality(retrains, info):
    # another CPU trains along another float path: quality within the JSON's stated
    # tolerance, never the weights' hash
    _, (got, _), _, _ = retrains
    assert abs(got["test_accuracy"] - info["test_accuracy"]) <= \
        info["reproducibility"]["test_accuracy_tolerance"]
    same = [k for k in info if k not in RETRAIN_MAY_CHANGE]  # the recipe, written the same way
    assert {k: got[k] for k in same} == {k: info[k] for k in same}
