"""``mnist_strokes``: an unpaired two-domain task (for CycleGAN) made from the embedded digits.

Domain A holds thin strokes, domain B thick ones, both made with ``scipy.ndimage`` grey
morphology (:func:`thin`, :func:`thick`). The task is unpaired: each mnist5k split is cut
into two fixed, class-stratified, disjoint halves; one half is made thin for A, the other
thick for B, so no digit appears in both domains. Items are drawn as in
:mod:`ganrun.data.unaligned`: A in order, B at random (in order for the test split).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from ganrun.data.arrays import to_unit_range
from ganrun.data.fields import first_n
from ganrun.data.mnist import SPLITS, mnist5k_arrays, mnist5k_split
from ganrun.data.unaligned import random_index
from ganrun.schema import DataConfig

THIN_FOOTPRINT = np.ones((2, 2), dtype=bool)  # erosion by a 2x2 square: one pixel less wide
THIN_GAIN = 2.0  # erosion dims what is left of a thin stroke; this brings its ink back
THICK_FOOTPRINT = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)  # dilation by a 3x3 cross


@dataclass
class StrokesConfig(DataConfig):
    """``mnist_strokes``: A thin-stroke digits, B thick-stroke ones (disjoint halves of mnist5k)."""

    name: str = "mnist_strokes"
    limit: int = first_n("images of each domain")


def _morph(op: str, images: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Apply ``scipy.ndimage.<op>`` to each image of an ``... x H x W`` array."""
    from scipy import ndimage  # lazy: ~1 s to import, and registering the dataset needs none

    images = np.asarray(images)
    return getattr(ndimage, op)(
        images, footprint=footprint.reshape((1,) * (images.ndim - 2) + footprint.shape))


def thin(images: np.ndarray) -> np.ndarray:
    """Thinner strokes: pixels 0..255 (ink bright), ``... x H x W``, same shape and dtype back."""
    eroded = _morph("grey_erosion", images, THIN_FOOTPRINT)
    return np.minimum(eroded.astype(np.float64) * THIN_GAIN, 255).astype(eroded.dtype)


def thick(images: np.ndarray) -> np.ndarray:
    """Thicker strokes: pixels 0..255 (ink bright), ``... x H x W``, same shape and dtype back."""
    return _morph("grey_dilation", images, THICK_FOOTPRINT)


def domain_halves(split: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """mnist5k indices of the split cut in two disjoint halves, half of each digit in each,
    each half in a fixed shuffled order (so a ``limit`` keeps the classes balanced)."""
    _, y = mnist5k_arrays()
    idx = mnist5k_split()[SPLITS.index(split)]
    rng = np.random.RandomState(seed)  # legacy generator: its stream never changes
    a, b = [], []
    for digit in range(10):
        mine = rng.permutation(idx[y[idx] == digit])
        a.append(mine[: len(mine) // 2])
        b.append(mine[len(mine) // 2 :])
    a, b = np.concatenate(a), np.concatenate(b)
    return a[rng.permutation(len(a))], b[rng.permutation(len(b))]


class UnpairedArrays(Dataset):
    """Two in-memory domains; ``{"A", "B", "label_A", "label_B"}``, taken whole per batch."""

    def __init__(self, images_a: torch.Tensor, labels_a: torch.Tensor, images_b: torch.Tensor,
                 labels_b: torch.Tensor, train: bool = True):
        if len(images_a) != len(labels_a) or len(images_b) != len(labels_b):
            raise ValueError("images and labels differ in length")
        if not len(images_a) or not len(images_b):
            raise ValueError("both domains need at least one image")
        self.images_a, self.labels_a = images_a.contiguous(), labels_a.long()
        self.images_b, self.labels_b = images_b.contiguous(), labels_b.long()
        self.train = train

    def __len__(self) -> int:
        return max(len(self.images_a), len(self.images_b))

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.__getitems__([i]).items()}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        n_a, n_b = len(self.images_a), len(self.images_b)
        a = torch.as_tensor([i % n_a for i in indices], dtype=torch.long)
        b = torch.as_tensor([random_index(n_b) if self.train else i % n_b for i in indices],
                            dtype=torch.long)
        return {"A": self.images_a[a], "B": self.images_b[b],
                "label_A": self.labels_a[a], "label_B": self.labels_b[b]}

    @staticmethod
    def collate(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return batch


def load_mnist_strokes(cfg: StrokesConfig, split: str) -> UnpairedArrays:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    x, y = mnist5k_arrays()
    domains = []
    for idx, make in zip(domain_halves(split), (thin, thick)):
        idx = idx[: cfg.limit] if cfg.limit else idx
        images = make(x[idx].reshape(-1, 1, 28, 28))
        domains += [to_unit_range(images), torch.from_numpy(y[idx])]
    return UnpairedArrays(*domains, train=split == "train")
