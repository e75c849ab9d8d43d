"""Unreadable images in folder datasets (``data.on_bad_file``): stop naming the file, or skip
it, warn once and count it; through the loaders and through ``ganrun`` on a tiny CycleGAN."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile
from torch.utils.data import DataLoader

from ganrun.cli import main
from ganrun.data.bad_files import BadFiles
from ganrun.data.celeba import CelebaConfig, load_celeba
from ganrun.data.class_folders import ClassFoldersConfig, load_class_folders
from ganrun.data.unaligned import UnalignedConfig, load_unaligned
from ganrun.errors import UserError
from ganrun.images import UnreadableImage, open_decoded
from ganrun.recipe import load_recipe
from tests.conftest import RECIPES


def _noise_bytes(fmt: str) -> bytes:
    """A 32x32 noise image in ``fmt``: large enough that half of it is a real truncation."""
    pixels = np.random.RandomState(0).randint(0, 256, (32, 32, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=fmt)
    return out.getvalue()


def truncated_jpeg(path: Path) -> Path:
    data = _noise_bytes("JPEG")
    path.write_bytes(data[: len(data) // 2])
    return path


def truncated_png(path: Path) -> Path:
    data = _noise_bytes("PNG")
    path.write_bytes(data[: len(data) // 2])
    return path


def not_an_image(path: Path) -> Path:
    path.write_text("<html>404 Not Found</html>")  # what a failed scrape often saves
    return path


BAD = {"truncated.jpg": truncated_jpeg, "truncated.png": truncated_png,
       "not_an_image.jpg": not_an_image}
WHAT = {"truncated.jpg": "(truncated: ", "truncated.png": "(truncated: ",
        "not_an_image.jpg": "(not an image"}


def _grey(path: Path, value: int) -> None:
    Image.new("RGB", (8, 8), (value,) * 3).save(path)


def _value(image: torch.Tensor) -> int:
    return int((image * 127.5 + 127.5).round().flatten()[0])


def test_open_decoded_says_what_is_wrong(tmp_path):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # a truncated file must not pass as an image
    for name, make in BAD.items():
        with pytest.raises(UnreadableImage) as e:
            open_decoded(make(tmp_path / name), "RGB")
        assert f"({e.value.reason}".startswith(WHAT[name]) and e.value.path == tmp_path / name
        assert isinstance(e.value, OSError)  # callers catching OSError keep working
    with pytest.raises(UnreadableImage) as e:
        open_decoded(tmp_path / "gone.png", "RGB")
    assert e.value.missing


# ------------------------------------------------------------------ unaligned
@pytest.fixture
def unaligned(tmp_path):
    """ROOT/{trainA,trainB,testA,testB}: A holds grey 0, 10, 20 as 0.png, 1.png, 2.png."""
    root = tmp_path / "h2z"
    for part in ("trainA", "trainB", "testA", "testB"):
        (root / part).mkdir(parents=True)
        for k in range(3):
            _grey(root / part / f"{k}.png", 10 * k + (100 if part.endswith("B") else 0))
    return root


def _cfg(root: Path, **kw) -> UnalignedConfig:
    return UnalignedConfig(root=str(root), load_size=8, crop_size=8, **kw)


@pytest.mark.parametrize("name", BAD)
def test_unaligned_stop_names_the_file(unaligned, name):
    bad = BAD[name](unaligned / "trainA" / f"1_{name}")  # index 2: after 1.png, before 2.png
    ds = load_unaligned(_cfg(unaligned), "train")
    ds[1]
    with pytest.raises(UserError) as e:
        ds[2]
    message = str(e.value)
    assert message.startswith(f"data.root: image file '{bad}' is unreadable {WHAT[name]}")
    assert message.endswith("; fix or remove it, or set data.on_bad_file: skip")
    assert "\n" not in message


def test_unaligned_skip_takes_the_next_warns_once_counts_and_never_rereads(unaligned, capsys):
    bad = {truncated_jpeg(unaligned / "trainA" / "1_a.jpg"),
           not_an_image(unaligned / "trainA" / "1_b.jpg")}  # indices 2, 3 (after 1.png)
    ds = load_unaligned(_cfg(unaligned, on_bad_file="skip"), "train")
    reads: dict[Path, int] = {}
    load = ds.load

    def counted(path: Path) -> torch.Tensor:
        reads[path] = reads.get(path, 0) + 1
        return load(path)

    ds.load = counted
    assert [_value(ds[i]["A"]) for i in range(5)] == [0, 10, 20, 20, 20]  # 2.png stands in
    for _ in range(2):
        for batch in DataLoader(ds, batch_size=2, shuffle=True):
            assert batch["A"].shape[1:] == (3, 8, 8)
    assert ds.skipped == 2 and set(ds.bad_files.bad) == bad
    assert all(reads[p] == 1 for p in bad)  # found bad once, never read again
    err = capsys.readouterr().err
    assert err.count("ganrun: warning:") == 1
    assert err.startswith("ganrun: warning: data.root: image file '") and err.count("\n") == 1
    assert "; skipping it (data.on_bad_file: skip), 1 so far" in err


def test_a_file_gone_since_the_folder_was_listed(unaligned):
    stop = load_unaligned(_cfg(unaligned), "train")
    skip = load_unaligned(_cfg(unaligned, on_bad_file="skip"), "train")
    (unaligned / "trainA" / "1.png").unlink()
    with pytest.raises(UserError, match=f"^data.root: image file '{unaligned / 'trainA' / '1.png'}'"
                                        f" not found; restore it, or set data.on_bad_file: skip$"):
        stop[1]
    assert _value(skip[1]["A"]) == 20 and skip.skipped == 1


def test_unaligned_all_bad_is_refused_even_when_skipping(unaligned):
    for image in (unaligned / "trainB").iterdir():
        image.unlink()
    truncated_png(unaligned / "trainB" / "a.png")
    not_an_image(unaligned / "trainB" / "b.jpg")
    ds = load_unaligned(_cfg(unaligned, on_bad_file="skip"), "test")
    assert _value(ds[0]["B"]) == 100  # the test split's B folder is fine
    ds = load_unaligned(_cfg(unaligned, on_bad_file="skip"), "train")
    with pytest.raises(UserError, match=f"^data.root: none of the 2 image files under "
                                        f"'{unaligned / 'trainB'}' can be read"):
        ds[0]


def test_the_choice_is_checked_in_the_recipe(unaligned, registry, tmp_path):
    recipe = str(RECIPES / "cyclegan_horse2zebra.yaml")
    loaded = load_recipe(recipe, [f"data.root={unaligned}"], registry=registry)
    assert loaded.data.on_bad_file == "stop"
    with pytest.raises(UserError, match="data.on_bad_file"):
        load_recipe(recipe, [f"data.root={unaligned}", "data.on_bad_file=ignore"],
                    registry=registry)


# ------------------------------------------------------------------ class_folders, celeba
@pytest.fixture
def classes(tmp_path):
    """ROOT/train/{angry,happy}/: angry holds grey 60, 61 (0.png, 1.png), happy grey 120."""
    root = tmp_path / "RaFD"
    for k, name in enumerate(("angry", "happy")):
        (root / "train" / name).mkdir(parents=True)
        for i in range(2 - k):
            _grey(root / "train" / name / f"{i}.png", 60 * (k + 1) + i)
    return root


def _rafd(root: Path, **kw) -> ClassFoldersConfig:
    return ClassFoldersConfig(root=str(root), crop_size=8, image_size=8, flip=False, **kw)


@pytest.mark.parametrize("name", BAD)
def test_class_folders_stop_names_the_file(classes, name):
    bad = BAD[name](classes / "train" / "angry" / f"2_{name}")
    ds = load_class_folders(_rafd(classes), "train")
    with pytest.raises(UserError, match=f"^data.root: image file '{bad}' is unreadable"):
        ds[2]


def test_class_folders_skip_keeps_image_and_label_together(classes, capsys):
    bad = truncated_jpeg(classes / "train" / "angry" / "2.jpg")  # the last angry file
    ds = load_class_folders(_rafd(classes, on_bad_file="skip"), "train")
    assert ds.labels.tolist() == [0, 0, 0, 1]
    item = ds[2]  # the next readable file is happy's: its label comes with it
    assert _value(item["image"]) == 120 and int(item["label"]) == 1
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["label"].tolist() == [0, 0, 1, 1]
    assert ds.skipped == 1 and list(ds.bad_files.bad) == [bad]
    assert capsys.readouterr().err.count("ganrun: warning:") == 1


def test_celeba_stops_on_a_bad_face_and_refuses_an_empty_folder(tmp_path):
    images = tmp_path / "celeba" / "images"
    images.mkdir(parents=True)
    attrs = tmp_path / "celeba" / "list_attr_celeba.txt"
    attrs.write_text("2\nMale Young\n1.jpg 1 -1\n2.jpg -1 1\n")
    with pytest.raises(UserError, match=f"^data.root: folder '{images}' holds no images"):
        load_celeba(CelebaConfig(root=str(images), test_count=0), "train")
    _grey(images / "1.jpg", 50)
    truncated_jpeg(images / "2.jpg")
    cfg = CelebaConfig(root=str(images), test_count=0, selected_attrs=["Male"], crop_size=8,
                       image_size=8)
    ds = load_celeba(cfg, "train")
    bad = next(i for i in range(2) if ds.files[i].name == "2.jpg")
    with pytest.raises(UserError, match=f"image file '{images / '2.jpg'}' is unreadable"):
        ds[bad]
    cfg.on_bad_file = "skip"
    ds = load_celeba(cfg, "train")
    assert int(ds[bad]["label"][0]) == 1  # 1.jpg's (Male 1) stands in for the bad 2.jpg
    assert ds.skipped == 1


def test_bad_files_refuses_an_unknown_policy():
    with pytest.raises(ValueError, match="on_bad_file"):
        BadFiles("ignore")


# ------------------------------------------------------------------ through ganrun
TINY = """\
extends: {base}
data:
  root: {root}
  load_size: 32
  crop_size: 32
model:
  ngf: 2
  ndf: 2
  pool_size: 2
  n_epochs: 1
  n_epochs_decay: 0
  preview: 1
train:
  epochs: 1
  batch_size: 2
  device: cpu
  checkpoint_every: 0
  threads: 1
metrics:
  every: 0
track:
  enabled: false
"""


@pytest.fixture
def tiny_cyclegan(workdir):
    """A tiny cyclegan recipe on unaligned folders whose trainA holds one good, one bad file."""
    root = workdir / "h2z"
    for part in ("trainA", "trainB", "testA", "testB"):
        (root / part).mkdir(parents=True)
        _grey(root / part / "0.png", 90)
    truncated_jpeg(root / "trainA" / "1.jpg")
    recipe = workdir / "tiny.yaml"
    recipe.write_text(TINY.format(base=RECIPES / "cyclegan_horse2zebra.yaml", root=root))
    return recipe, root / "trainA" / "1.jpg"


def test_cli_stop_is_exit_2_and_one_line(tiny_cyclegan, capsys):
    recipe, bad = tiny_cyclegan
    assert main([str(recipe)]) == 2  # batch 2 of 2 images: the bad one is in the first batch
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "ganrun: error:" in line]
    assert len(errors) == 1 and err.rstrip().endswith("data.on_bad_file: skip")
    assert f"ganrun: error: data.root: image file '{bad}' is unreadable (truncated: " in errors[0]


def test_cli_skip_trains_past_the_bad_file(tiny_cyclegan, capsys):
    recipe, bad = tiny_cyclegan
    assert main([str(recipe), "data.on_bad_file=skip"]) == 0
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("ganrun: warning:") == 1 and f"image file '{bad}'" in err
    out = captured.out
    assert "  skipped image files: 1 (data.on_bad_file: skip)" in out  # the count, at the end


def test_a_joint_dataset_blames_the_part_and_sums_the_skips(classes, tmp_path):
    from ganrun.data.joint import JointDataset, load_joint
    from ganrun.data.class_folders import load_class_folders

    class Both:  # a joint config of two class_folders parts
        def __init__(self, a, b):
            self._parts = [("rafd", a), ("faces", b)]

        def parts(self):
            return self._parts

    truncated_jpeg(classes / "train" / "angry" / "2.jpg")
    stop = load_joint(Both(_rafd(classes), _rafd(classes, on_bad_file="skip")), "train",
                      [load_class_folders, load_class_folders])
    assert isinstance(stop, JointDataset)
    assert [p.bad_files.source for p in stop.parts] == ["data.rafd.root", "data.faces.root"]
    for i in range(len(stop.parts[1])):
        stop.parts[1][i]
    assert stop.skipped == stop.parts[1].skipped == 1
