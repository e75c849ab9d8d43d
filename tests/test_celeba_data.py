"""StarGAN's data as users bring it: celeba, class_folders (RaFD) and the joint celeba_rafd."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from ganrun.data.celeba import CelebaConfig, load_celeba
from ganrun.data.class_folders import ClassFoldersConfig, load_class_folders
from ganrun.data.joint_sets import CelebaRafdConfig, load_celeba_rafd
from ganrun.data.labelled_files import center_crop
from ganrun.data.labels import LabelSet
from ganrun.errors import UserError
from ganrun.recipe import load_recipe

NAMES = ["5_o_Clock_Shadow", "Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair", "Male",
         "Smiling", "Young"]
N_FACES, N_TEST = 20, 5


def _value(k: int, j: int) -> int:
    """Image k's value of attribute j in the fixture: 1 or -1, a different pattern each."""
    return 1 if (k * 7 + j * 3) % (j + 2) == 0 else -1


def _half_white(width: int, height: int) -> Image.Image:
    """Left half black, right half white: a flip shows."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, width // 2 :] = 255
    return Image.fromarray(pixels)


@pytest.fixture
def celeba(tmp_path):
    """data/celeba/{images/000001.jpg ..., list_attr_celeba.txt}, laid out as the official."""
    images = tmp_path / "celeba" / "images"
    images.mkdir(parents=True)
    lines = [str(N_FACES), " ".join(NAMES)]
    for k in range(N_FACES):
        name = f"{k + 1:06d}.png"
        _half_white(20, 24).save(images / name)
        lines.append(name + "  " + " ".join(f"{_value(k, j):2d}" for j in range(len(NAMES))))
    (tmp_path / "celeba" / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return images


def _cfg(images, **kw) -> CelebaConfig:
    return CelebaConfig(**{"root": str(images), "crop_size": 16, "image_size": 8,
                           "test_count": N_TEST, **kw})


def test_attribute_file_split_and_labels(celeba):
    state = random.getstate()
    train, test = load_celeba(_cfg(celeba), "train"), load_celeba(_cfg(celeba), "test")
    assert random.getstate() == state  # a private RNG shuffles
    lines = [f"{k + 1:06d}.png" for k in range(N_FACES)]
    random.seed(1234)  # the official code: random.seed(1234); random.shuffle(lines)
    random.shuffle(lines)
    assert [f.name for f in test.files] == lines[:N_TEST]  # exactly test_count held out
    assert [f.name for f in train.files] == lines[N_TEST:]
    selected = CelebaConfig().selected_attrs
    for ds in (train, test):
        assert ds.labels.dtype == torch.float32 and ds.labels.shape == (len(ds), len(selected))
        for f, label in zip(ds.files, ds.labels):
            k = int(f.stem) - 1
            assert label.tolist() == [float(_value(k, NAMES.index(a)) == 1) for a in selected]
    assert len(load_celeba(_cfg(celeba, limit=4), "train")) == 4


def test_transform_shape_range_and_flip_on_train_only(celeba):
    def left_columns(split: str, **kw) -> set:
        ds = load_celeba(_cfg(celeba, **kw), split)
        torch.manual_seed(0)
        return {float(ds[0]["image"][0, :, 0].mean()) for _ in range(30)}

    item = load_celeba(_cfg(celeba), "train")[0]
    assert item["image"].shape == (3, 8, 8) and item["image"].dtype == torch.float32
    assert item["image"].min() == -1 and item["image"].max() == 1
    assert left_columns("train") == {-1.0, 1.0}  # black on the left, or white after a flip
    assert left_columns("train", flip=False) == {-1.0}
    assert left_columns("test") == {-1.0}  # the test split never flips
    batch = next(iter(DataLoader(load_celeba(_cfg(celeba), "test"), batch_size=4)))
    assert batch["image"].shape == (4, 3, 8, 8) and batch["label"].shape == (4, 5)


def test_center_crop_is_torchvisions():
    ramp = Image.fromarray(np.tile(np.arange(21, dtype=np.uint8), (9, 1)))  # 21 wide, 9 high
    crop = np.asarray(center_crop(ramp, 4))
    assert crop[0].tolist() == [8, 9, 10, 11]  # left = round(17 / 2) = 8
    assert np.asarray(center_crop(ramp, 5))[0].tolist() == [8, 9, 10, 11, 12]
    small = np.asarray(center_crop(Image.new("L", (2, 2), 200), 5))
    assert small.shape == (5, 5) and small[1:3, 1:3].tolist() == [[200, 200]] * 2  # pad 1 | 2
    assert small.sum() == 4 * 200


def test_label_sets():
    assert CelebaConfig().label_sets() == [LabelSet(
        "celeba", ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"), multi=True,
        exclusive=(("Black_Hair", "Blond_Hair", "Brown_Hair"),))]
    assert CelebaConfig(selected_attrs=["Male", "Gray_Hair"]).label_sets()[0].exclusive == ()
    with pytest.raises(UserError, match="data.selected_attrs: .* twice"):
        CelebaConfig(selected_attrs=["Male", "Male"]).label_sets()


def test_celeba_refusals(celeba, tmp_path):
    def refused(cfg: CelebaConfig, match: str) -> str:
        with pytest.raises(UserError, match=match) as e:
            load_celeba(cfg, "train")
        assert "\n" not in str(e.value)
        return str(e.value)

    refused(CelebaConfig(), "data.root: missing")
    refused(_cfg(tmp_path / "nowhere"), "data.root: folder .* not found")
    refused(_cfg(celeba, attr_path=str(tmp_path / "x.txt")), "data.attr_path: file .* not found")
    msg = refused(_cfg(celeba, selected_attrs=["Male", "Bald"]),
                  "data.selected_attrs: 'Bald' is not an attribute")
    assert "5_o_Clock_Shadow" in msg
    refused(_cfg(celeba, test_count=N_FACES), "data.test_count: 20 holds out all 20")
    (celeba.parent / "list_attr_celeba.txt").rename(celeba.parent / "attrs.txt")
    assert "set data.attr_path" in refused(_cfg(celeba), "data.attr_path: file")
    good = _cfg(celeba, attr_path=str(celeba.parent / "attrs.txt"))
    ds = load_celeba(good, "train")
    ds.files[1].unlink()
    with pytest.raises(UserError, match="data.root: image file .* not found"):
        ds[1]
    ds.files[0].unlink()
    refused(good, "data.root: .* lacks")


# ------------------------------------------------------------------ class_folders (RaFD)
CLASSES = ("angry", "happy", "neutral")


@pytest.fixture
def rafd(tmp_path):
    """data/RaFD/{train,test}/<expression>/*.jpg; class k's images are grey 60*(k+1)."""
    root = tmp_path / "RaFD"
    for split, n in (("train", 3), ("test", 2)):
        for k, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n + k):
                Image.new("RGB", (12, 10), (60 * (k + 1),) * 3).save(folder / f"{i}.jpg")
    return root


def _rafd(root, **kw) -> ClassFoldersConfig:
    return ClassFoldersConfig(root=str(root), crop_size=8, image_size=4, **kw)


def _class_of(image: torch.Tensor) -> int:
    return round(float((image.mean() + 1) * 127.5) / 60) - 1


def test_class_folders_items_and_order(rafd):
    ds = load_class_folders(_rafd(rafd), "train")
    assert len(ds) == 3 + 4 + 5 and ds.labels.dtype == torch.long
    assert ds.labels.tolist() == [0] * 3 + [1] * 4 + [2] * 5  # sorted folders, ImageFolder's
    for i in range(len(ds)):
        assert _class_of(ds[i]["image"]) == int(ds[i]["label"])
    picked = load_class_folders(_rafd(rafd, classes=["neutral", "angry"]), "test")
    assert picked.labels.tolist() == [0] * 4 + [1] * 2  # the list's order; happy left out
    assert _class_of(picked[0]["image"]) == CLASSES.index("neutral")
    batch = next(iter(DataLoader(ds, batch_size=5)))
    assert batch["image"].shape == (5, 3, 4, 4) and batch["label"].shape == (5,)
    assert load_class_folders(_rafd(rafd, channels=1), "test")[0]["image"].shape == (1, 4, 4)
    assert len(load_class_folders(_rafd(rafd, limit=5), "train")) == 5


def test_class_folders_label_sets_and_refusals(rafd, tmp_path):
    cfg = _rafd(rafd, classes=list(CLASSES), name_as="faces")
    assert cfg.label_sets() == [LabelSet("faces", CLASSES, multi=False)]
    with pytest.raises(UserError, match="data.classes: list the class folders"):
        _rafd(rafd).label_sets()
    for kw, match in (({"root": None}, "data.root: missing"),
                      ({"root": str(tmp_path / "none")}, "data.root: folder .*train' not found"),
                      ({"classes": ["happy", "sad"]},
                       "data.classes: class folder .*sad' not found")):
        with pytest.raises(UserError, match=match):
            load_class_folders(ClassFoldersConfig(**{"root": str(rafd), **kw}), "train")
    for image in (rafd / "test" / "happy").iterdir():
        image.unlink()
    with pytest.raises(UserError, match="data.root: class folder .*happy' holds no images"):
        load_class_folders(_rafd(rafd), "test")


# ------------------------------------------------------------------ celeba_rafd
def _joint(celeba, rafd) -> CelebaRafdConfig:
    return CelebaRafdConfig(celeba=_cfg(celeba), rafd=_rafd(rafd, classes=list(CLASSES)))


def test_joint_items_lengths_and_random_draw(celeba, rafd):
    cfg = _joint(celeba, rafd)
    assert cfg.label_sets() == CelebaConfig().label_sets() + [LabelSet("rafd", CLASSES, False)]
    train = load_celeba_rafd(cfg, "train")
    assert len(train) == max(N_FACES - N_TEST, 12)
    random.seed(0)
    batch = train.__getitems__(list(range(len(train))))
    assert set(batch) == {"image_0", "label_0", "image_1", "label_1"}
    assert batch["image_0"].shape == (15, 3, 8, 8) and batch["label_0"].shape == (15, 5)
    assert batch["image_1"].shape == (15, 3, 4, 4) and batch["label_1"].dtype == torch.long
    assert torch.equal(batch["label_0"], train.parts[0].labels)  # dataset 0 in order
    random.seed(0)
    draws = [random.randint(0, 11) for _ in range(15)]  # as unaligned.random_index draws
    assert batch["label_1"].tolist() == train.parts[1].labels[draws].tolist()
    test = load_celeba_rafd(cfg, "test")
    assert len(test) == 9 and test[7]["label_1"] == test.parts[1].labels[7]  # in order
    assert test[7]["label_0"].tolist() == test.parts[0].labels[7 % N_TEST].tolist()
    loader = DataLoader(train, batch_size=4, shuffle=True, collate_fn=train.collate)
    assert next(iter(loader))["label_0"].shape == (4, 5)


def test_joint_errors_name_the_parts_key(celeba, rafd):
    cfg = _joint(celeba, rafd)
    cfg.rafd.root = None
    with pytest.raises(UserError, match="^data.rafd.root: missing"):
        load_celeba_rafd(cfg, "train")
    cfg.rafd.classes = []
    with pytest.raises(UserError, match="^data.rafd.classes: list the class folders"):
        cfg.label_sets()


def test_joint_recipe_validates_strictly(celeba, rafd, registry, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"method: dcgan\ndata:\n  name: celeba_rafd\n  celeba:\n"
                      f"    root: {celeba}\n    selected_attrs: [Male, Smiling]\n"
                      f"  rafd:\n    root: {rafd}\n    classes: [happy, angry]\n")
    data = load_recipe(recipe, registry=registry).data
    assert isinstance(data, CelebaRafdConfig) and isinstance(data.celeba, CelebaConfig)
    assert [s.names for s in data.label_sets()] == [("Male", "Smiling"), ("happy", "angry")]
    with pytest.raises(UserError, match="data.rafd.colour"):
        load_recipe(recipe, ["data.rafd.colour=1"], registry=registry)
    with pytest.raises(UserError, match="data.celeba.crop_size: 0 must be >= 1"):
        load_recipe(recipe, ["data.celeba.crop_size=0"], registry=registry)


def test_registered(registry):
    for name, schema in (("celeba", CelebaConfig), ("class_folders", ClassFoldersConfig),
                         ("celeba_rafd", CelebaRafdConfig)):
        assert registry.dataset(name).schema is schema
