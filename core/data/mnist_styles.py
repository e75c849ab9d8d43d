"""``mnist_styles``: digits in one of four styles, RaFD's role in the embedded StarGAN task
(Choi et al. 2018, Sec. 4: RaFD's expressions, exactly one per image).

Every mnist5k digit of the split gets one style, drawn with a fixed seed and balanced (a
quarter each), white on black, 3 x 32 x 32 in [-1, 1]: ``plain`` (the digit, padded),
``striped`` (the digit thickened with :func:`ganrun.data.strokes.thick`, its ink dimmed
along diagonal stripes), ``shadowed`` (a dim copy of the digit shifted down-right, behind
it) and ``framed`` (a white border in the padding, which :func:`ganrun.data.mnist32.as_mnist`
crops away). Every style keeps the digit readable by ``lenet_mnist`` after ``as_mnist``.
Labels are class indices in the order of :data:`STYLES`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from ganrun.data.arrays import to_unit_range
from ganrun.data.fields import first_n
from ganrun.data.labels import LabelSet
from ganrun.data.mnist import SPLITS
from ganrun.data.mnist32 import PAD, SIDE, LabelledDigits, balanced, limited, pad, split_digits
from ganrun.data.strokes import thick
from ganrun.schema import DataConfig

STYLES = ("plain", "striped", "shadowed", "framed")
LABELS = LabelSet("styles", STYLES, multi=False)
STRIPE_PERIOD, STRIPE_ON, STRIPE_LEVEL = 3, 2, 0.3  # of each 3 diagonals, 1 dimmed to 30%
SHADOW_SHIFT, SHADOW_LEVEL = 2, 0.5  # px down and right; brightness of the shadow
FRAME = PAD  # border width in px: exactly the padding, so a centre crop to 28 removes it
SEED = 0  # the styles' draw (with the split's index)


@dataclass
class MnistStylesConfig(DataConfig):
    """``mnist_styles``: mnist5k digits, each plain, striped, shadowed or framed."""

    name: str = "mnist_styles"
    limit: int = first_n()

    def label_sets(self) -> list[LabelSet]:
        """One single-label set: plain, striped, shadowed, framed."""
        return [LABELS]


def plain(digits: np.ndarray) -> np.ndarray:
    """``N x 28 x 28`` uint8 digits -> ``N x 32 x 32`` uint8, padded with black."""
    return pad(digits)


def striped(digits: np.ndarray) -> np.ndarray:
    """Thick strokes whose ink is dimmed on every third diagonal ``(row + col) % 3 == 2``."""
    rows, cols = np.mgrid[:SIDE, :SIDE]
    gain = np.where((rows + cols) % STRIPE_PERIOD < STRIPE_ON, 1.0, STRIPE_LEVEL)
    return np.rint(pad(thick(digits)) * gain).astype(np.uint8)


def shadowed(digits: np.ndarray) -> np.ndarray:
    """The digit over a copy of itself at ``SHADOW_LEVEL`` brightness, shifted down-right."""
    image, s = pad(digits), SHADOW_SHIFT
    shadow = np.zeros_like(image)
    shadow[:, s:, s:] = np.rint(image[:, :-s, :-s] * SHADOW_LEVEL)
    return np.maximum(image, shadow)


def framed(digits: np.ndarray) -> np.ndarray:
    """The padded digit inside a white border ``FRAME`` px wide."""
    image = pad(digits)
    image[:, :FRAME], image[:, -FRAME:] = 255, 255
    image[:, :, :FRAME], image[:, :, -FRAME:] = 255, 255
    return image


RENDER = {"plain": plain, "striped": striped, "shadowed": shadowed, "framed": framed}


def render(digits: np.ndarray, styles: np.ndarray) -> np.ndarray:
    """``N x 28 x 28`` uint8 digits, ``N`` style indices -> ``N x 3 x 32 x 32`` uint8 (grey)."""
    out = np.zeros((len(digits), SIDE, SIDE), np.uint8)
    for k, name in enumerate(STYLES):
        mine = styles == k
        if mine.any():
            out[mine] = RENDER[name](digits[mine])
    return np.repeat(out[:, None], 3, axis=1)


def draw_styles(n: int, split: str) -> np.ndarray:
    """``n`` style indices, fixed per split, each style on a quarter of the digits."""
    rng = np.random.RandomState([SEED, SPLITS.index(split)])  # legacy: its stream never changes
    return balanced(n, len(STYLES), rng)


@functools.lru_cache(maxsize=2)
def _build(split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    digits, classes = split_digits(split)
    styles = draw_styles(len(digits), split)
    images = to_unit_range(render(digits, styles))
    return images, torch.from_numpy(styles.astype(np.int64)), torch.from_numpy(classes)


def load_mnist_styles(cfg: MnistStylesConfig, split: str) -> LabelledDigits:
    """The split's digits in their styles (4,000 train / 1,000 test); ~1 s."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return limited(*_build(split), cfg.limit)
