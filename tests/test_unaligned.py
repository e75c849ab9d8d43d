"""Unpaired two-domain datasets: CycleGAN's folders (``unaligned``) and ``mnist_strokes``."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from ganrun.data.strokes import StrokesConfig, domain_halves, load_mnist_strokes, thick, thin
from ganrun.data.unaligned import UnalignedConfig, load_unaligned
from ganrun.errors import UserError

N_A, N_B = 3, 5


def _grey(value: int) -> Image.Image:
    return Image.new("RGB", (20, 16), (value, value, value))


def _half_white(size: int) -> Image.Image:
    """Left half black, right half white: a flip shows."""
    pixels = np.zeros((size, size, 3), dtype=np.uint8)
    pixels[:, size // 2 :] = 255
    return Image.fromarray(pixels)


@pytest.fixture
def folders(tmp_path):
    """ROOT/{trainA,trainB,testA,testB}; image k of A is grey 10*k, of B grey 100+10*k."""
    root = tmp_path / "horse2zebra"
    for split in ("train", "test"):
        for domain, n, base in (("A", N_A, 0), ("B", N_B, 100)):
            folder = root / f"{split}{domain}"
            folder.mkdir(parents=True)
            for k in range(n):
                _grey(base + 10 * k).save(folder / f"{k:03d}.png")
    (root / "trainA" / "notes.txt").write_text("not an image")
    return root


def _which(image: torch.Tensor, base: int) -> int:
    """The index k of a constant grey image 'base + 10 k', from its [-1, 1] pixels."""
    value = (image * 127.5 + 127.5).round()
    assert value.min() == value.max(), "a constant image stays constant"
    return (int(value.flatten()[0]) - base) // 10


def test_lengths_shapes_range_and_a_in_order(folders):
    ds = load_unaligned(UnalignedConfig(root=str(folders), load_size=12, crop_size=8), "train")
    assert len(ds) == max(N_A, N_B)
    for i in range(len(ds)):
        item = ds[i]
        assert item["A"].shape == item["B"].shape == (3, 8, 8)
        assert item["A"].dtype == torch.float32
        assert -1 <= item["A"].min() and item["B"].max() <= 1
        assert _which(item["A"], 0) == i % N_A
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["A"].shape == batch["B"].shape == (4, 3, 8, 8)
    grey = load_unaligned(UnalignedConfig(root=str(folders), crop_size=8, load_size=8, channels=1),
                          "train")
    assert grey[0]["A"].shape == (1, 8, 8)
    assert len(load_unaligned(UnalignedConfig(root=str(folders), limit=2), "train")) == 2


def test_b_is_drawn_at_random_from_pythons_rng(folders):
    ds = load_unaligned(UnalignedConfig(root=str(folders), load_size=8, crop_size=8), "train")
    random.seed(0)
    drawn = [_which(ds[0]["B"], 100) for _ in range(40)]
    assert set(drawn) == set(range(N_B))  # all of B, for the same A
    random.seed(0)
    assert [_which(ds[0]["B"], 100) for _ in range(40)] == drawn  # the checkpointed RNG
    test = load_unaligned(UnalignedConfig(root=str(folders), load_size=8, crop_size=8), "test")
    assert [_which(test[i]["B"], 100) for i in range(len(test))] == list(range(N_B))


def test_random_crop_and_flip(tmp_path):
    root = tmp_path / "pattern"
    for part in ("trainA", "trainB", "testA", "testB"):
        (root / part).mkdir(parents=True)
        _half_white(16).save(root / part / "x.png")

    def left_columns(cfg: UnalignedConfig, split: str = "train") -> set:
        ds = load_unaligned(cfg, split)
        torch.manual_seed(0)
        return {float(ds[0]["A"][0, :, 0].mean()) for _ in range(30)}

    flips = left_columns(UnalignedConfig(root=str(root), load_size=16, crop_size=16))
    assert flips == {-1.0, 1.0}  # black on the left, or white after a flip
    assert left_columns(UnalignedConfig(root=str(root), load_size=16, crop_size=16,
                                        flip=False)) == {-1.0}
    assert left_columns(UnalignedConfig(root=str(root), load_size=16, crop_size=16),
                        "test") == {-1.0}  # the test split never flips
    cfg = UnalignedConfig(root=str(root), load_size=16, crop_size=6, flip=False)
    ds = load_unaligned(cfg, "train")
    torch.manual_seed(0)
    crops = [ds[0]["A"] for _ in range(30)]
    assert all(c.shape == (3, 6, 6) for c in crops)
    assert len({float(c.mean()) for c in crops}) > 1  # crops land in different places


def test_missing_or_empty_folders_name_the_folder_and_the_fix(folders, tmp_path):
    with pytest.raises(UserError, match="data.root: missing"):
        load_unaligned(UnalignedConfig(), "train")
    for image in (folders / "testB").iterdir():
        image.unlink()
    fix = f"`ganrun data download horse2zebra --root {tmp_path}`"
    with pytest.raises(UserError, match="testB' holds no images") as e:
        load_unaligned(UnalignedConfig(root=str(folders)), "test")
    assert fix in str(e.value) and "\n" not in str(e.value)
    (folders / "testB").rmdir()
    with pytest.raises(UserError, match="testB' not found") as e:
        load_unaligned(UnalignedConfig(root=str(folders)), "test")
    assert fix in str(e.value)
    with pytest.raises(UserError, match="`ganrun data download NAME --root "):
        load_unaligned(UnalignedConfig(root=str(tmp_path / "elsewhere")), "train")
    with pytest.raises(UserError, match="data.crop_size: 300 exceeds data.load_size: 286"):
        load_unaligned(UnalignedConfig(root=str(folders), crop_size=300), "train")


def test_both_datasets_are_registered(registry):
    assert registry.dataset("unaligned").schema is UnalignedConfig
    assert registry.dataset("mnist_strokes").schema is StrokesConfig


# ------------------------------------------------------------------ mnist_strokes
@pytest.fixture(scope="module")
def strokes():
    return load_mnist_strokes(StrokesConfig(), "train")


def test_strokes_halves_are_disjoint_and_stratified():
    for split, per_digit in (("train", 200), ("test", 50)):
        a, b = domain_halves(split)
        assert not set(a) & set(b)
        assert len(a) == len(b) == 10 * per_digit
    ds = load_mnist_strokes(StrokesConfig(), "test")
    assert torch.bincount(ds.labels_a).tolist() == [50] * 10
    assert torch.bincount(ds.labels_b).tolist() == [50] * 10


def test_strokes_domains_differ_in_ink(strokes):
    ink_a = (strokes.images_a > 0).float().mean()
    ink_b = (strokes.images_b > 0).float().mean()
    assert ink_b > 2 * ink_a
    digits = np.full((2, 1, 28, 28), 0, dtype=np.uint8)
    digits[:, :, 10:18, 12:16] = 255  # a bar 4 pixels wide
    assert thin(digits).shape == thick(digits).shape == digits.shape
    assert thin(digits).dtype == np.uint8
    assert (thin(digits) > 0).sum() < (digits > 0).sum() < (thick(digits) > 0).sum()


def test_strokes_items_and_batches(strokes):
    assert len(strokes) == 2000
    item = strokes[7]
    assert item["A"].shape == item["B"].shape == (1, 28, 28)
    assert item["label_A"].dtype == torch.long
    assert torch.equal(item["A"], strokes.images_a[7])  # A in order
    random.seed(1)
    batch = strokes.__getitems__([0] * 64)
    assert torch.equal(batch["A"], strokes.images_a[[0] * 64])
    assert len({float(x.sum()) for x in batch["B"]}) > 10  # B drawn at random
    loader = DataLoader(strokes, batch_size=16, collate_fn=strokes.collate)
    batch = next(iter(loader))
    assert batch["A"].shape == (16, 1, 28, 28) and batch["label_B"].shape == (16,)
    assert len(load_mnist_strokes(StrokesConfig(limit=30), "train")) == 30


def test_strokes_digits_stay_readable():
    from ganrun.evaluators.lenet import accuracy, load_lenet_mnist

    net, ds = load_lenet_mnist(), load_mnist_strokes(StrokesConfig(), "test")
    assert accuracy(net, ds.images_a, ds.labels_a) >= 0.93
    assert accuracy(net, ds.images_b, ds.labels_b) >= 0.93
