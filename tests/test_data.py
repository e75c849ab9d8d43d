"""Datasets: the embedded 5,000 digits and MNIST from IDX files."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from ganrun.data.mnist import (MnistIdxConfig, Mnist5kConfig, load_mnist5k, load_mnist_idx,
                               mnist5k_split)
from ganrun.errors import UserError


def test_mnist5k_split_is_fixed_stratified_and_disjoint():
    train, test = mnist5k_split()
    assert len(train) == 4000 and len(test) == 1000
    assert not set(train) & set(test)
    assert np.array_equal(train, mnist5k_split()[0])  # integers from numpy's fixed legacy stream
    ds = load_mnist5k(Mnist5kConfig(), "test")
    assert torch.bincount(ds.labels).tolist() == [100] * 10
    assert ds.images.shape == (1000, 1, 28, 28)
    assert ds.images.min() == -1.0 and ds.images.max() == 1.0


def test_batches_are_taken_whole():
    ds = load_mnist5k(Mnist5kConfig(limit=100), "train")
    batch = ds.__getitems__([3, 1, 4])
    assert batch["image"].shape == (3, 1, 28, 28) and batch["label"].tolist() == ds.labels[[3, 1, 4]].tolist()


def _write_idx(path, array, gz=False):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


def test_idx_loader_reads_plain_and_gzipped(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 28, 28))
    y = np.array([0, 1, 2, 3, 4])
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", x, gz=True)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", y)
    ds = load_mnist_idx(MnistIdxConfig(root=str(tmp_path)), "train")
    assert ds.labels.tolist() == [0, 1, 2, 3, 4]
    expected = (torch.from_numpy(x).float() - 127.5) / 127.5
    assert torch.allclose(ds.images[:, 0], expected)


def test_idx_loader_errors_name_the_folder(tmp_path):
    with pytest.raises(UserError, match="data.root: missing"):
        load_mnist_idx(MnistIdxConfig(), "train")
    with pytest.raises(UserError, match="data.root: folder '.*nowhere' not found"):
        load_mnist_idx(MnistIdxConfig(root=str(tmp_path / "nowhere")), "train")
    with pytest.raises(UserError, match="has no train-images-idx3-ubyte"):
        load_mnist_idx(MnistIdxConfig(root=str(tmp_path)), "train")
