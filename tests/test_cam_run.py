"""The cam method through the CLI, ``ganrun cam``, and discriminator maps of GAN runs."""
from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from ganrun.cli import main
from tests.conftest import RECIPES, train_once

TINY_CAM = f"""\
extends: {RECIPES / 'cam_mnist_canvas.yaml'}
data:
  limit: 128
model:
  widths: [4, 8]
train:
  epochs: 2
  batch_size: 32
  threads: 1
metrics:
  every: 1
  samples: 50
"""


@pytest.fixture(scope="module")
def cam_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("cam")
    (work / "tiny.yaml").write_text(TINY_CAM)
    return work, train_once(work, ["tiny.yaml", "track.enabled=false"])


def test_cam_run_reports_localisation_and_exports_the_classifier(cam_run):
    work, s = cam_run
    for key in ("eval/cls_acc", "eval/loc_acc", "eval/mean_iou", "eval/saliency_loc_acc",
                "epoch/cls_acc"):
        assert 0.0 <= s["metrics"][key] <= 1.0, key
    assert s["metrics"]["epoch/cls"] > 0  # the classification loss: loss/cls each step
    assert Path(s["generator"]).name == "classifier.safetensors"
    grid = Image.open(Path(s["output_dir"]) / "images" / "image_at_epoch_0002.png")
    assert grid.mode == "RGB"  # CAM overlays in colour


def test_cam_command_writes_an_overlay(cam_run, tmp_path, capsys):
    from ganrun.data.canvas import CanvasConfig, load_mnist_canvas
    from ganrun.images import save_image

    work, s = cam_run
    canvas = save_image(tmp_path / "canvas.png", load_mnist_canvas(CanvasConfig(limit=1), "test").images[0])
    assert main(["cam", s["generator"], "--input", str(canvas), "--out", str(tmp_path / "o.png"),
                 "--class", "3"]) == 0
    assert "class 3" in capsys.readouterr().out
    assert Image.open(tmp_path / "o.png").size == (256, 256)  # 64 px at scale 4


@pytest.mark.parametrize("args, message", [
    (["--input", "missing.png"], "--input: missing.png not found"),
    (["--class", "10"], "--class: 10 is not a class of this classifier (0 to 9)"),
    (["--class", "-1"], "--class: -1 is not a class"),
])
def test_cam_command_refuses_bad_input_in_one_line(cam_run, tmp_path, capsys, args, message):
    work, s = cam_run
    Image.new("L", (64, 64)).save(tmp_path / "x.png")
    base = {"--input": str(tmp_path / "x.png"), "--out": str(tmp_path / "o.png")}
    base.update(dict(zip(args[::2], args[1::2])))
    assert main(["cam", s["generator"], *[x for kv in base.items() for x in kv]]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_dcgan_discriminator_maps_are_logged_to_mlflow(tiny_recipe, workdir):
    s = train_once(workdir, [str(tiny_recipe(epochs=2)), "metrics.every=2", "cam.discriminator=true",
                             "cam.images=3"])
    maps = Path(s["output_dir"]) / "discriminator_maps" / "D_epoch_0002.png"
    assert maps.is_file() and not (maps.parent / "D_epoch_0001.png").exists()  # every 2 epochs
    client = MlflowClient(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")
    logged = [a.path for a in client.list_artifacts(s["run_id"], "discriminator_maps")]
    assert logged == ["discriminator_maps/D_epoch_0002.png"]


def test_cyclegan_patchgan_maps(workdir):
    from tests.test_cyclegan_run import TINY

    (workdir / "cg.yaml").write_text(TINY)
    s = train_once(workdir, ["cg.yaml", "track.enabled=false", "train.epochs=1",
                             "cam.discriminator=true"])
    folder = Path(s["output_dir"]) / "discriminator_maps"
    assert sorted(p.name for p in folder.iterdir()) == ["discA_epoch_0001.png",
                                                        "discB_epoch_0001.png"]
