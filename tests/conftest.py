"""Shared fixtures: tiny recipes that train in seconds through the real code paths."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RECIPES = REPO / "recipes"

TINY = """\
extends: {base}
model:
  g_widths: [16, 8, 4]
  d_widths: [4, 8]
data:
  limit: 256
train:
  epochs: {epochs}
  batch_size: 64
  checkpoint_every: {every}
  threads: 1
metrics:
  every: 0  # sample-quality metrics have their own tests (test_cgan, test_evaluation)
"""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a server a test starts."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_once(work: Path, args: list[str]) -> dict:
    """Run ``ganrun ARGS --summary-json s.json`` inside ``work``; return the summary.

    For module-scoped fixtures that share one tiny run between tests."""
    import json
    import os

    from ganrun.cli import main

    old = os.getcwd()
    os.chdir(work)
    try:
        assert main([*args, "--summary-json", "s.json"]) == 0
    finally:
        os.chdir(old)
    return json.loads((work / "s.json").read_text())


# what a retrain of a shipped evaluator on another machine or day may change in its JSON
RETRAIN_MAY_CHANGE = {"test_accuracy", "train_time_s", "weights_sha256", "torch", "machine"}


def fragile_predictions(net, images, margin: float = 1e-3) -> int:
    """How many images have their top two logits within ``margin``: the only predictions
    that float error in inference (~1e-6 between CPUs) could flip."""
    import torch

    with torch.no_grad():
        top2 = torch.cat([net.logits(x) for x in images.split(500)]).topk(2, dim=1).values
    return int((top2[:, 0] - top2[:, 1] < margin).sum())


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module: small kernels crawl when threads contend for 2 cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """Run in a fresh folder: runs/ and the MLflow store land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def tiny_recipe(workdir):
    """Write a tiny dcgan recipe extending quickstart.yaml; returns its path."""

    def make(epochs: int = 2, every: int = 1, name: str = "tiny") -> Path:
        path = workdir / f"{name}.yaml"
        path.write_text(TINY.format(base=RECIPES / "quickstart.yaml", epochs=epochs, every=every))
        return path

    return make


@pytest.fixture
def registry():
    from ganrun.plugins import get_plugin_manager
    from ganrun.registry import Registry

    pm = get_plugin_manager()
    return Registry.from_hooks(pm.hook)
