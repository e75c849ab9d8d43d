"""Bad input a new user found: each is exit 2, one line on stderr, and nothing written."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ganrun.cli import main
from tests.conftest import RECIPES, train_once


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def nothing_written(folder: Path) -> bool:
    return not (folder / "runs").exists() and not (folder / "mlruns").exists()


def unaligned_root(tmp_path: Path) -> Path:
    """A published-layout folder with 3 images per domain and split."""
    for folder in ("trainA", "trainB", "testA", "testB"):
        (tmp_path / "h2z" / folder).mkdir(parents=True)
        for k in range(3):
            Image.new("RGB", (8, 8), (40 * k,) * 3).save(tmp_path / "h2z" / folder / f"{k}.png")
    return tmp_path / "h2z"


# every method, on its own recipe: (recipe, extra overrides, training-set size)
EVERY_METHOD = [
    ("quickstart.yaml", [], 4000),
    ("cgan_mnist.yaml", [], 4000),
    ("cyclegan_mnist_strokes.yaml", [], 2000),
    ("cyclegan_horse2zebra.yaml", ["data.root={root}", "train.device=cpu"], 3),
    ("cam_mnist_canvas.yaml", [], 4000),
]


@pytest.mark.parametrize("recipe, extra, size", EVERY_METHOD, ids=[r for r, _, _ in EVERY_METHOD])
def test_batch_larger_than_the_training_set_is_refused_before_anything_is_made(
        workdir, capsys, recipe, extra, size):
    root = unaligned_root(workdir)
    args = [str(RECIPES / recipe), "train.batch_size=100000",
            *(a.format(root=root) for a in extra)]
    assert main(args) == 2
    err = one_line(capsys)
    assert f"train.batch_size: 100000 is larger than the training set ({size} images" in err
    assert nothing_written(workdir)


def test_batch_of_the_whole_training_set_trains(tiny_recipe, workdir):
    # the limit is the training set: a batch of all 256 images is one step an epoch
    s = train_once(workdir, [str(tiny_recipe(epochs=1)), "train.batch_size=256"])
    assert s["status"] == "FINISHED"
