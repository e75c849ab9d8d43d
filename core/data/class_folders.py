"""``class_folders``: single-label images in one folder per class, RaFD's layout in StarGAN.

As the reference ``data_loader.py`` of Choi et al. 2018 reads RaFD, with torchvision's
``ImageFolder`` on ``root/train`` or ``root/test``: each sub-folder is a class, the classes
are the sorted folder names, an image's label is its folder's index, and the images go
through StarGAN's transform (:mod:`ganrun.data.labelled_files`). ``classes`` may name the
folders instead; the labels then follow its order.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch

from ganrun.data.fields import channels, flip, on_bad_file
from ganrun.data.labelled_files import LabelledFiles
from ganrun.data.labels import LabelSet
from ganrun.data.unaligned import image_files
from ganrun.errors import UserError
from ganrun.schema import DataConfig, limit

SPLITS = ("train", "test")


@dataclass
class ClassFoldersConfig(DataConfig):
    """``class_folders``: images in ``root/{train,test}/<class>/``, one class each."""

    name: str = "class_folders"
    root: Optional[str] = limit(
        None, doc="the folder holding train/ and test/ (official: data/RaFD)")
    classes: List[str] = limit(
        [], doc="the class folders, in label order; empty: every sub-folder, sorted")
    name_as: str = limit("rafd", doc="the label set's name: a target is written NAME_AS=CLASS")
    crop_size: int = limit(256, ge=1, doc="centre crop ...")
    image_size: int = limit(128, ge=1, doc="... resized to this")
    flip: bool = flip()
    channels: int = channels()
    on_bad_file: str = on_bad_file()
    limit: int = limit(0, ge=0, doc="use only N images of the split (a fixed draw); 0 uses all")

    def label_sets(self) -> list[LabelSet]:
        """One single-label set, ``name_as``, of the listed classes."""
        if not self.classes:
            raise UserError("data.classes: list the class folders (e.g. [angry, happy, "
                            "neutral]); a conditioned model is rebuilt from its recipe alone, so "
                            "the recipe must name its classes")
        if len(set(self.classes)) != len(self.classes):
            raise UserError(f"data.classes: {list(self.classes)} names a class twice")
        return [LabelSet(self.name_as, tuple(self.classes), multi=False)]


def class_names(cfg: ClassFoldersConfig, folder: Path) -> list[str]:
    """``data.classes``, each checked to be a folder, or every sub-folder, sorted."""
    if not cfg.classes:
        found = sorted(p.name for p in folder.iterdir() if p.is_dir())
        if not found:
            raise UserError(f"data.root: folder '{folder}' has no class folders")
        return found
    cfg.label_sets()  # no class named twice
    for name in cfg.classes:
        if not (folder / name).is_dir():
            raise UserError(f"data.classes: class folder '{folder / name}' not found")
    return list(cfg.classes)


def load_class_folders(cfg: ClassFoldersConfig, split: str) -> LabelledFiles:
    """The split's images (read when asked for) and their class indices."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not cfg.root:
        raise UserError("data.root: missing; set it to the folder holding train/<class>/ and "
                        "test/<class>/ (the official data/RaFD)")
    folder = Path(cfg.root).expanduser() / split
    if not folder.is_dir():
        raise UserError(f"data.root: folder '{folder}' not found")
    files, labels = [], []
    for index, name in enumerate(class_names(cfg, folder)):
        mine = image_files(folder / name)
        if not mine:
            raise UserError(f"data.root: class folder '{folder / name}' holds no images")
        files += mine
        labels += [index] * len(mine)
    if cfg.limit:
        keep = np.sort(np.random.RandomState(1).permutation(len(files))[: cfg.limit])
        files, labels = [files[i] for i in keep], [labels[i] for i in keep]
    return LabelledFiles(files, torch.tensor(labels, dtype=torch.long), crop_size=cfg.crop_size,
                         image_size=cfg.image_size, flip=cfg.flip and split == "train",
                         channels=cfg.channels, on_bad_file=cfg.on_bad_file)
