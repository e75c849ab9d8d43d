"""docs/python_api.md runs: every Python block of it, in order, against tiny runs of the four
generator methods trained here, and what it computes is what the CLI gives."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganrun.cli import main
from ganrun.errors import UserError
from tests.conftest import REPO, RECIPES, TINY, train_once
from tests.test_cyclegan_run import TINY as TINY_CYCLEGAN
from tests.test_stargan_run import TINY as TINY_STARGAN

DOC = REPO / "docs" / "python_api.md"
ONE_EPOCH = ["train.epochs=1", "metrics.every=0", "train.threads=1"]
UNTRACKED = [*ONE_EPOCH, "track.enabled=false"]


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def work(tmp_path_factory, one_thread):
    """Tiny runs named as the doc's recipes, in one folder; input images for translation."""
    work = tmp_path_factory.mktemp("python_api")
    recipes = {
        "quickstart": (TINY.format(base=RECIPES / "quickstart.yaml", epochs=1, every=1),
                       ONE_EPOCH),  # tracked: the doc loads models:/quickstart/1
        "cgan_mnist": (TINY.format(base=RECIPES / "cgan_mnist.yaml", epochs=1, every=1),
                       UNTRACKED),
        "cyclegan_mnist_strokes": (TINY_CYCLEGAN, UNTRACKED),
        "stargan_mnist_domains": (TINY_STARGAN, UNTRACKED),
    }
    for name, (text, overrides) in recipes.items():
        (work / f"{name}.yaml").write_text(text)
        assert train_once(work, [f"{name}.yaml", *overrides])["status"] == "FINISHED"
    rng = np.random.default_rng(0)
    for folder, shape in (("thin", (28, 28)), ("digits", (32, 32, 3))):
        (work / folder).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(
                work / folder / f"{i}.png")
    return work


@pytest.fixture(scope="module")
def ran(work):
    """The namespace the doc's blocks leave, run in order inside ``work``."""
    old = os.getcwd()
    os.chdir(work)
    namespace: dict = {}
    try:
        for code in blocks():
            exec(compile(code, str(DOC), "exec"), namespace)
    finally:
        os.chdir(old)
    return namespace


def test_the_doc_has_a_block_for_each_use():
    text = "\n".join(blocks())
    for call in ("load(", ".sample(", "label=", ".translate(", ".translator("):
        assert call in text


def test_sampling_gives_what_ganrun_sample_gives(ran, work):
    samples = ran["samples"]
    assert samples.images.shape == (16, 1, 28, 28)
    assert samples.images.min() >= -1 and samples.images.max() <= 1
    assert (work / "samples.png").is_file()
    run = max((work / "runs" / "quickstart").iterdir())
    assert main(["sample", str(run), "--n", "16", "--seed", "0", "--out",
                 str(work / "cli.npz")]) == 0
    assert torch.equal(samples.images, torch.from_numpy(np.load(work / "cli.npz")["images"]))


def test_a_registered_model_loads_the_same_weights(ran):
    ours, theirs = ran["gan"].network.state_dict(), ran["registered"].network.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_conditional_sampling_draws_the_class_asked_for(ran):
    assert ran["sevens"].labels.tolist() == [7] * 8
    assert ran["rows"].images.shape[0] == 40
    assert ran["rows"].labels.tolist() == [c for c in range(10) for _ in range(4)]


def test_translation_writes_what_ganrun_translate_writes(ran, work):
    assert ran["thick"].shape == ran["images"].shape == (3, 1, 28, 28)
    run = max((work / "runs" / "cyclegan_mnist_strokes").iterdir())
    assert main(["translate", str(run), "--to", "AtoB", "--input", str(work / "thin"),
                 "--out", str(work / "cli_thick")]) == 0
    for i in range(3):
        assert (work / f"thick_{i}.png").read_bytes() == (work / "cli_thick" / f"{i}.png").read_bytes()


def test_stargan_translates_to_attributes_and_to_a_class(ran):
    digits, red, framed = ran["digits"], ran["red"], ran["framed"]
    assert digits.shape == red.shape == framed.shape == (3, 3, 32, 32)
    assert not torch.equal(red, framed)  # two targets, two outputs


def test_each_use_refuses_the_other_in_one_line(ran):
    with pytest.raises(UserError, match="samples from noise and translates nothing"):
        ran["gan"].translate(ran["images"], to="AtoB")
    with pytest.raises(UserError, match="translates images rather than sampling noise"):
        ran["cyclegan"].sample(4)
    with pytest.raises(UserError, match="known"):
        ran["cyclegan"].translator("sideways")
    assert (ran["gan"].translates, ran["cyclegan"].translates) == (False, True)
