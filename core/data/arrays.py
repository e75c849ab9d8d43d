"""An in-memory dataset of image tensors that hands out whole batches at once."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


def to_unit_range(pixels: np.ndarray) -> torch.Tensor:
    """uint8-range pixels (0..255) -> float32 in [-1, 1], as ``(x - 127.5) / 127.5``."""
    return torch.from_numpy((np.asarray(pixels, dtype=np.float32) - 127.5) / 127.5)


class ArrayDataset(Dataset):
    """Images ``N x C x H x W`` in [-1, 1] and integer labels, indexed as whole batches.

    ``__getitems__`` lets a DataLoader take a batch with one indexing operation instead of
    one per image; ``collate`` is then the identity.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        if len(images) != len(labels):
            raise ValueError("images and labels differ in length")
        self.images = images.contiguous()
        self.labels = labels.long()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": self.images[i], "label": self.labels[i]}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(indices)
        return {"image": self.images[idx], "label": self.labels[idx]}

    @staticmethod
    def collate(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return batch
