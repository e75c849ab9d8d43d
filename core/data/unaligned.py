"""``unaligned``: CycleGAN's two unpaired image folders, ``ROOT/{trainA,trainB,testA,testB}``.

As the official ``unaligned_dataset.py`` (Zhu et al. 2017): item ``i`` is ``A[i % |A|]`` with
a ``B`` drawn at random (Python's ``random``, which the engine checkpoints); images are
resized to ``load_size`` x ``load_size`` (bicubic), randomly cropped to ``crop_size``,
randomly flipped left-right, and scaled to [-1, 1]. The crop and flip draw from torch's
global RNG, as torchvision's transforms do. The test split is repeatable: B in order (as
the official ``test.py``'s serial batches), no flip (as ``test.py``), and a centre crop.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch.utils.data import Dataset

from ganrun.data.bad_files import BadFiles
from ganrun.data.fields import channels, first_n, flip, on_bad_file
from ganrun.errors import UserError
from ganrun.images import IMAGE_SUFFIXES, read_image
from ganrun.schema import DataConfig, limit

SPLITS = ("train", "test")


@dataclass
class UnalignedConfig(DataConfig):
    """``unaligned``: unpaired images in ``root/trainA``, ``root/trainB`` (``testA``, ``testB``)."""

    name: str = "unaligned"
    root: Optional[str] = limit(None, doc="the folder holding trainA/ trainB/ testA/ testB/")
    load_size: int = limit(286, ge=1, doc="images are resized to load_size x load_size ...")
    crop_size: int = limit(256, ge=1, doc="... then cropped to crop_size x crop_size")
    flip: bool = flip()
    channels: int = channels()
    on_bad_file: str = on_bad_file()
    limit: int = first_n("images of each domain")


def random_index(size: int) -> int:
    """An index into a domain of ``size`` items, drawn as the official code draws B's."""
    return random.randint(0, size - 1)


class UnalignedFolders(Dataset):
    """Image files of domains A and B; ``{"A": C x S x S, "B": C x S x S}`` in [-1, 1]."""

    def __init__(self, files_a: list[Path], files_b: list[Path], cfg: UnalignedConfig,
                 train: bool = True):
        if not files_a or not files_b:
            raise ValueError("both domains need at least one image")
        self.files_a, self.files_b = files_a, files_b
        self.load_size, self.crop_size = cfg.load_size, cfg.crop_size
        self.channels = cfg.channels
        self.train = train
        self.flip = cfg.flip and train
        self.bad_files = BadFiles(cfg.on_bad_file)

    def __len__(self) -> int:
        return max(len(self.files_a), len(self.files_b))

    @property
    def skipped(self) -> int:
        """Unreadable files skipped so far (``data.on_bad_file: skip``)."""
        return self.bad_files.skipped

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        j = random_index(len(self.files_b)) if self.train else i % len(self.files_b)
        _, a = self.bad_files.read(self.files_a, i % len(self.files_a), self.load)
        _, b = self.bad_files.read(self.files_b, j, self.load)
        return {"A": a, "B": b}

    def load(self, path: Path) -> torch.Tensor:
        """One file -> ``C x crop_size x crop_size`` in [-1, 1], with the split's transforms."""
        image = read_image(path, self.channels, self.load_size)
        top, left = self._crop_corner()
        image = image[:, top : top + self.crop_size, left : left + self.crop_size]
        if self.flip and torch.rand(1).item() < 0.5:
            image = image.flip(-1)
        return image.contiguous()

    def _crop_corner(self) -> tuple[int, int]:
        room = self.load_size - self.crop_size
        if not self.train:
            return room // 2, room // 2
        return (int(torch.randint(0, room + 1, (1,)).item()),
                int(torch.randint(0, room + 1, (1,)).item()))


def image_files(folder: Path) -> list[Path]:
    """The images under ``folder`` (recursively), sorted, as the official ``make_dataset``."""
    return sorted(p for p in folder.rglob("*")
                  if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _fix_hint(root: Path) -> str:
    """How to get the folders: the download command for a registered archive, else the layout."""
    from ganrun.plugin_check import load_plugins

    archives = load_plugins()[1].archives
    name = root.name if root.name in archives else "NAME"
    known = "" if name != "NAME" else f" (known: {', '.join(sorted(archives)) or 'none'})"
    return (f"put the images in {root}/trainA, trainB, testA, testB, or fetch them with "
            f"`ganrun data download {name} --root {root.parent}`{known}")


def load_unaligned(cfg: UnalignedConfig, split: str) -> UnalignedFolders:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not cfg.root:
        raise UserError("data.root: missing; set it to a folder holding trainA/ trainB/ testA/ "
                        "testB/, e.g. one fetched with `ganrun data download NAME --root "
                        "<parent>` (`ganrun data list` names them)")
    if cfg.crop_size > cfg.load_size:
        raise UserError(f"data.crop_size: {cfg.crop_size} exceeds data.load_size: {cfg.load_size}")
    root = Path(cfg.root).expanduser()
    domains = []
    for domain in ("A", "B"):
        folder = root / f"{split}{domain}"
        if not folder.is_dir():
            raise UserError(f"data.root: folder '{folder}' not found; {_fix_hint(root)}")
        files = image_files(folder)
        if not files:
            raise UserError(f"data.root: folder '{folder}' holds no images; {_fix_hint(root)}")
        domains.append(files[: cfg.limit] if cfg.limit else files)
    return UnalignedFolders(*domains, cfg, train=split == "train")
