"""``mnist_attributes``: digits with independent attributes, CelebA's role in the embedded
StarGAN task (Choi et al. 2018, Sec. 4: CelebA's binary attributes, hair colour one of several).

Every mnist5k digit of the split gets five 0/1 attributes, drawn with a fixed seed and
balanced (each binary one on half the digits, each colour on a third): ``thick`` (dilated
with :func:`ganrun.data.strokes.thick`), ``slanted`` (an affine shear, ``scipy.ndimage``)
and one of ``red``, ``green``, ``blue`` (the channel the grey digit is drawn in, on black).

Thin digits are the plain digit, except the 30% written with a heavy pen, whose wide parts
are first made thinner: plain digits' strokes vary so much that plain against dilated is
only ~92% separable, heavy plain digits looking like thin dilated ones (measured with the
``attributes_mnist`` net). Thick digits get a second dilation where one leaves them thin.
Every digit is deskewed (its slant, from its image moments, sheared away), so upright and
slanted are properties of the rendering, not of the writer. Images are 3 x 32 x 32 in
[-1, 1]; labels the 5-vector of 0/1 floats, in the order of :data:`ATTRIBUTES`.
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
from ganrun.data.mnist32 import LabelledDigits, balanced, limited, pad, split_digits
from ganrun.data.strokes import thick, thin
from ganrun.schema import DataConfig

COLOURS = ("red", "green", "blue")  # in channel order
ATTRIBUTES = ("thick", "slanted", *COLOURS)
LABELS = LabelSet("attributes", ATTRIBUTES, multi=True, exclusive=(COLOURS,), exactly_one=True)
SLANT = 0.4  # shear of a slanted digit: rows above the centre move 0.4 px right each (~22 deg)
LIGHT_MAX, HEAVY_MIN = 0.15, 0.3  # interior ink of a thin digit at most, of a thick one at least
ROUNDS = 3  # of thinning or thickening, at most
KEEP = 0.35  # a digit is made thinner only while it keeps this share of its ink pixels
SEED = 0  # the attributes' draw (with the split's index)


@dataclass
class MnistAttributesConfig(DataConfig):
    """``mnist_attributes``: mnist5k digits, each thick or not, slanted or not, red/green/blue."""

    name: str = "mnist_attributes"
    limit: int = first_n()

    def label_sets(self) -> list[LabelSet]:
        """One multi-label set: thick, slanted, red, green, blue (the colours exclusive)."""
        return [LABELS]


def shear(images: np.ndarray, slant: np.ndarray) -> np.ndarray:
    """Each ``H x W`` image (float, ink bright) deskewed, then sheared by ``slant[i]``.

    The writer's slant is the covariance of the ink's columns with its rows over the
    variance of its rows (second image moments); output pixel (r, c) is read at column
    ``c + (skew + slant) * (r - centre row)``, so the centre row stays, rows above it move
    right by ``slant`` px per row (an italic), and a skewed digit stands upright first."""
    from scipy import ndimage  # lazy: ~1 s to import, and registering the dataset needs none

    rows, cols = np.mgrid[: images.shape[-2], : images.shape[-1]].astype(np.float64)
    out = np.empty_like(images, dtype=np.float64)
    for i, image in enumerate(images):
        w = image.astype(np.float64)
        total = w.sum() or 1.0
        cy, cx = (rows * w).sum() / total, (cols * w).sum() / total
        var_y = ((rows - cy) ** 2 * w).sum() / total or 1.0
        skew = ((rows - cy) * (cols - cx) * w).sum() / total / var_y
        k = skew + slant[i]
        out[i] = ndimage.affine_transform(w, np.array([[1.0, 0.0], [k, 1.0]]),
                                          offset=(0.0, -k * cy), order=1)
    return out


def interior(digits: np.ndarray) -> np.ndarray:
    """Per digit, the share of its ink (pixels > 127) still ink after a 3 x 3 binary erosion:
    0 for strokes 2 px wide or less, about (w - 2) / w for strokes w px wide."""
    from scipy import ndimage

    ink = digits > 127
    inner = ndimage.binary_erosion(ink, structure=np.ones((1, 3, 3), bool))
    return inner.sum((1, 2)) / np.maximum(ink.sum((1, 2)), 1)


def thin_heavy_parts(digits: np.ndarray) -> np.ndarray:
    """The digits with their strokes wider than 2 px (the ink a 3 x 3 opening keeps, and a
    pixel round it) made thinner (:func:`ganrun.data.strokes.thin`); thin strokes kept."""
    from scipy import ndimage

    square = np.ones((1, 3, 3), bool)
    heavy = ndimage.binary_dilation(ndimage.binary_opening(digits > 127, structure=square),
                                    structure=square)
    return np.where(heavy, thin(digits), digits)


def pen_widths(digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each digit as if written with a light pen and with a heavy one, so that thin and thick
    do not overlap whatever pen the writer used: light, the digit's heavy parts made thinner
    (:func:`thin_heavy_parts`) while its :func:`interior` exceeds ``LIGHT_MAX`` and it keeps
    ``KEEP`` of its ink (most digits are left as they are, none wears away);
    heavy, the light one made thicker
    (:func:`ganrun.data.strokes.thick`), again while its interior is below ``HEAVY_MIN``."""
    light, ink = digits.copy(), (digits > 127).sum((1, 2))
    for _ in range(ROUNDS):
        thinner = thin_heavy_parts(light)
        heavy = (interior(light) > LIGHT_MAX) & ((thinner > 127).sum((1, 2)) >= KEEP * ink)
        light[heavy] = thinner[heavy]
    bold = thick(light)
    for _ in range(ROUNDS):
        faint = interior(bold) < HEAVY_MIN
        bold[faint] = thick(bold[faint])
    return light, bold


def render(digits: np.ndarray, attributes: np.ndarray) -> np.ndarray:
    """``N x 28 x 28`` uint8 digits and ``N x 5`` 0/1 attributes -> ``N x 3 x 32 x 32`` uint8."""
    is_thick, is_slanted = attributes[:, 0].astype(bool), attributes[:, 1].astype(bool)
    light, bold = pen_widths(digits)
    grey = np.where(is_thick[:, None, None], bold, light)
    grey = shear(pad(grey), SLANT * is_slanted)
    grey = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    out = np.zeros((len(digits), 3, *grey.shape[1:]), np.uint8)
    out[np.arange(len(digits)), attributes[:, 2:].argmax(1)] = grey
    return out


def draw_attributes(n: int, split: str) -> np.ndarray:
    """``n x 5`` 0/1 attributes, fixed per split and balanced: thick and slanted each on
    half the digits, each colour on a third, independently."""
    rng = np.random.RandomState([SEED, SPLITS.index(split)])  # legacy: its stream never changes
    is_thick, is_slanted, colour = balanced(n, 2, rng), balanced(n, 2, rng), balanced(n, 3, rng)
    return np.column_stack([is_thick, is_slanted, np.eye(3, dtype=np.int64)[colour]])


@functools.lru_cache(maxsize=2)
def _build(split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    digits, classes = split_digits(split)
    attributes = draw_attributes(len(digits), split)
    images = to_unit_range(render(digits, attributes))
    return images, torch.from_numpy(attributes.astype(np.float32)), torch.from_numpy(classes)


def load_mnist_attributes(cfg: MnistAttributesConfig, split: str) -> LabelledDigits:
    """The split's digits with their attributes (4,000 train / 1,000 test); ~1 s."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return limited(*_build(split), cfg.limit)
