"""Joint datasets: several labelled datasets trained together, as StarGAN trains CelebA and
RaFD through its mask vector (Choi et al. 2018, Sec. 3.2).

A :class:`JointDataset` of datasets 0, 1, ... gives ``{"image_0", "label_0", "image_1",
"label_1", ...}``: item ``i`` of dataset 0 in the DataLoader's order, and from each other
dataset an item drawn at random with Python's ``random`` on the train split (as
:func:`ganrun.data.unaligned.random_index` draws CycleGAN's domain B, so the engine's
checkpointed RNG makes it repeatable), or item ``i`` (modulo its length) on the test split.
Its length is the longest part's.

A joint dataset's config subclasses :class:`JointConfig`: each of its dataclass fields is a
part's config, in order; its ``label_sets()`` is the concatenation of the parts'.
"""
from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import torch
from torch.utils.data import Dataset, default_collate

from ganrun.data.labels import LabelSet
from ganrun.data.unaligned import random_index
from ganrun.errors import UserError
from ganrun.schema import DataConfig


@contextmanager
def within(part: str) -> Iterator[None]:
    """A part's ``data.KEY: ...`` errors renamed ``data.PART.KEY: ...``: the recipe's key."""
    try:
        yield
    except UserError as e:
        message = str(e)
        if message.startswith("data."):
            message = f"data.{part}.{message[len('data.'):]}"
        raise UserError(message) from None


@dataclasses.dataclass
class JointConfig(DataConfig):
    """Base of a joint dataset's schema: every dataclass-valued field is a part."""

    def parts(self) -> list[tuple[str, Any]]:
        """``(field name, part config)`` for each part, in order."""
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)
                if dataclasses.is_dataclass(getattr(self, f.name))]

    def label_sets(self) -> list[LabelSet]:
        """The parts' label sets, in order (one per part)."""
        sets = []
        for name, part in self.parts():
            with within(name):
                sets += part.label_sets()
        taken = [s.dataset for s in sets]
        for s in sets:
            if taken.count(s.dataset) > 1:
                raise UserError(f"data: two parts give labels named '{s.dataset}'; rename one")
        return sets


def _take(part: Dataset, indices: list[int]) -> dict[str, torch.Tensor]:
    """A batch of ``part``'s items: in one call where it can (``__getitems__``), else stacked."""
    if hasattr(part, "__getitems__"):
        return part.__getitems__(indices)
    return default_collate([part[i] for i in indices])


class JointDataset(Dataset):
    """Datasets trained together; ``{"image_K", "label_K"}`` for each part K, whole batches."""

    def __init__(self, parts: Sequence[Dataset], train: bool = True):
        if len(parts) < 2:
            raise ValueError("a joint dataset needs at least two parts")
        if any(len(p) == 0 for p in parts):
            raise ValueError("every part needs at least one image")
        self.parts = list(parts)
        self.train = train

    def __len__(self) -> int:
        return max(len(p) for p in self.parts)

    @property
    def skipped(self) -> int:
        """Unreadable image files skipped so far, over every part (``data.on_bad_file``)."""
        return sum(getattr(p, "skipped", 0) for p in self.parts)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.__getitems__([i]).items()}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        batch = {}
        for k, part in enumerate(self.parts):
            n = len(part)
            if k == 0 or not self.train:
                mine = [i % n for i in indices]
            else:
                mine = [random_index(n) for _ in indices]
            items = _take(part, mine)
            batch[f"image_{k}"], batch[f"label_{k}"] = items["image"], items["label"]
        return batch

    @staticmethod
    def collate(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return batch


def load_joint(cfg: JointConfig, split: str,
               loaders: Sequence[Callable[[Any, str], Dataset]]) -> JointDataset:
    """Each part of ``cfg`` loaded by its loader (in the parts' order), joined."""
    parts = cfg.parts()
    if len(loaders) != len(parts):
        raise ValueError(f"{len(parts)} parts, {len(loaders)} loaders")
    datasets = []
    for (name, part), load in zip(parts, loaders):
        with within(name):
            datasets.append(load(part, split))
        if not len(datasets[-1]):
            raise UserError(f"data.{name}: its {split} split holds no images")
        bad = getattr(datasets[-1], "bad_files", None)  # read later, outside ``within``
        if bad is not None:  # so a bad file is blamed on data.NAME.root, not data.root
            bad.source = f"data.{name}.{bad.source.removeprefix('data.')}"
    return JointDataset(datasets, train=split == "train")
