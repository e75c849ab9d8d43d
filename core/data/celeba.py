"""``celeba``: CelebA's aligned faces and their 40 binary attributes, in StarGAN's layout.

As the reference ``data_loader.py`` of Choi et al. 2018 (class ``CelebA``): the attribute file
(``list_attr_celeba.txt``) holds the image count on its first line, the attribute names on
its second, then one line per image: its file name and a 1 or -1 per attribute. The image
lines are shuffled with seed 1234; the first ``test_count`` form the test split, the rest
the train split; an image's label is, for each selected attribute, whether its value is 1.
Images are read lazily with StarGAN's transform (:mod:`ganrun.data.labelled_files`).
"""
from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import torch

from ganrun.data.fields import first_n, flip, on_bad_file
from ganrun.data.labelled_files import LabelledFiles
from ganrun.data.labels import LabelSet
from ganrun.errors import UserError
from ganrun.schema import DataConfig, limit

SPLITS = ("train", "test")
ATTR_FILE = "list_attr_celeba.txt"
SHUFFLE_SEED = 1234  # the official random.seed(1234) before random.shuffle(lines)
# the official solver's hair colours: a target that sets one clears the others
HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")


@dataclass
class CelebaConfig(DataConfig):
    """``celeba``: aligned CelebA images in ``root``, attributes in ``attr_path``."""

    name: str = "celeba"
    root: Optional[str] = limit(None, doc="the aligned images (official: data/celeba/images)")
    attr_path: Optional[str] = limit(
        None, doc="the attribute file; null: list_attr_celeba.txt beside root")
    selected_attrs: List[str] = limit(
        ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"],
        doc="the attributes to condition on, columns of the attribute file")
    crop_size: int = limit(178, ge=1, doc="centre crop of the 178 x 218 aligned faces ...")
    image_size: int = limit(128, ge=1, doc="... resized to this")
    flip: bool = flip()
    test_count: int = limit(2000, ge=0, doc="images held out for the test split")
    on_bad_file: str = on_bad_file()
    limit: int = first_n()

    def label_sets(self) -> list[LabelSet]:
        """One multi-label set, ``celeba``: the selected attributes, hair colours exclusive."""
        names = tuple(self.selected_attrs)
        if not names:
            raise UserError("data.selected_attrs: empty; list the attributes to condition on, "
                            "e.g. [Black_Hair, Blond_Hair, Brown_Hair, Male, Young]")
        if len(set(names)) != len(names):
            raise UserError(f"data.selected_attrs: {list(names)} names an attribute twice")
        hair = tuple(a for a in names if a in HAIR_COLOURS)
        return [LabelSet("celeba", names, multi=True, exclusive=(hair,) if len(hair) > 1 else ())]


def attribute_path(cfg: CelebaConfig) -> Path:
    """``data.attr_path``, or ``list_attr_celeba.txt`` beside the images folder."""
    if cfg.attr_path:
        return Path(cfg.attr_path).expanduser()
    return Path(cfg.root).expanduser().parent / ATTR_FILE


def read_attributes(path: Path, selected: tuple[str, ...], test_count: int
                    ) -> dict[str, tuple[list[str], torch.Tensor]]:
    """The attribute file's split: ``{"train": (file names, N x K 0/1 floats), "test": ...}``.

    As the official code, except that exactly ``test_count`` images are held out: its
    ``(i+1) < 2000`` holds out 1,999, the paper (Sec. 4.1) says 2,000."""
    stat = path.stat()
    return _read(str(path), stat.st_mtime_ns, stat.st_size, selected, test_count)


@functools.lru_cache(maxsize=2)
def _read(path: str, mtime_ns: int, size: int, selected: tuple[str, ...], test_count: int
          ) -> dict[str, tuple[list[str], torch.Tensor]]:
    lines = [line.rstrip() for line in open(path, encoding="utf-8")]
    if len(lines) < 3:
        raise UserError(f"data.attr_path: '{path}' is not a CelebA attribute file (a count, "
                        f"a line of attribute names, then a line per image)")
    names = lines[1].split()
    unknown = [a for a in selected if a not in names]
    if unknown:
        raise UserError(f"data.selected_attrs: '{unknown[0]}' is not an attribute of '{path}' "
                        f"(known: {', '.join(names[:6])}, ... {len(names)} in all)")
    columns = [names.index(a) for a in selected]
    data = [line for line in lines[2:] if line.strip()]
    random.Random(SHUFFLE_SEED).shuffle(data)  # a private RNG: the global one stays as it was
    files, labels = [], []
    for number, line in enumerate(data):
        fields = line.split()
        if len(fields) != len(names) + 1:
            raise UserError(f"data.attr_path: '{path}': the line of {fields[0]} has "
                            f"{len(fields) - 1} values for {len(names)} attributes")
        files.append(fields[0])
        labels.append([fields[1 + c] == "1" for c in columns])
    if test_count >= len(files):
        raise UserError(f"data.test_count: {test_count} holds out all {len(files)} images of "
                        f"'{path}'; none would be left to train on")
    labels = torch.tensor(labels, dtype=torch.float32).reshape(len(files), len(selected))
    return {"test": (files[:test_count], labels[:test_count]),
            "train": (files[test_count:], labels[test_count:])}


def load_celeba(cfg: CelebaConfig, split: str) -> LabelledFiles:
    """The split's images (read when asked for) and their ``N x K`` 0/1 labels."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not cfg.root:
        raise UserError("data.root: missing; set it to the folder of CelebA's aligned images "
                        "(the official data/celeba/images)")
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise UserError(f"data.root: folder '{root}' not found")
    if next(root.iterdir(), None) is None:
        raise UserError(f"data.root: folder '{root}' holds no images; point it at CelebA's "
                        f"aligned images (the official data/celeba/images)")
    path = attribute_path(cfg)
    if not path.is_file():
        where = "" if cfg.attr_path else " (the default: beside data.root; set data.attr_path)"
        raise UserError(f"data.attr_path: file '{path}' not found{where}")
    cfg.label_sets()  # the selected attributes make a valid label set
    files, labels = read_attributes(path, tuple(cfg.selected_attrs), cfg.test_count)[split]
    if cfg.limit:
        files, labels = files[: cfg.limit], labels[: cfg.limit]
    if files and not (root / files[0]).is_file():
        raise UserError(f"data.root: '{root}' lacks {files[0]}, which '{path}' lists; point "
                        f"data.root at the aligned images (the official data/celeba/images)")
    return LabelledFiles([root / f for f in files], labels.clone(), crop_size=cfg.crop_size,
                         image_size=cfg.image_size, flip=cfg.flip and split == "train",
                         on_bad_file=cfg.on_bad_file)
