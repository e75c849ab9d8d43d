"""Image files with a label each, read lazily the way StarGAN reads CelebA and RaFD.

The reference code of Choi et al. 2018 (``data_loader.py``, ``get_loader``) transforms each
image with ``RandomHorizontalFlip`` (train only), ``CenterCrop(crop_size)``, ``Resize(image_size)``,
``ToTensor``, ``Normalize(0.5, 0.5)``. This module does the same with Pillow alone (no
torchvision): the flip draws from torch's global RNG as torchvision's does, the crop is
torchvision's (black padding where the image is smaller), the resize is Pillow's bilinear
(what torchvision's ``Resize`` does to a PIL image), and pixels end in [-1, 1].
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ganrun.data.arrays import to_unit_range
from ganrun.data.bad_files import BadFiles
from ganrun.images import open_decoded


def center_crop(image: Image.Image, size: int) -> Image.Image:
    """The centre ``size x size`` of ``image``, as torchvision's ``CenterCrop`` on a PIL image:
    offsets rounded half to even, black all round where the image is smaller."""
    width, height = image.size

    def offset(side: int) -> int:
        return -((size - side) // 2) if size > side else int(round((side - size) / 2.0))

    left, top = offset(width), offset(height)
    return image.crop((left, top, left + size, top + size))  # Pillow fills outside with black


def crop_resize_image(path: str | Path, crop_size: int, image_size: int, flip: bool,
                      channels: int = 3) -> torch.Tensor:
    """One file -> ``C x image_size x image_size`` in [-1, 1]: flipped left-right with
    probability 1/2 when ``flip``, centre-cropped to ``crop_size``, resized (bilinear).
    A file that cannot be decoded in full raises :class:`ganrun.images.UnreadableImage`."""
    im = open_decoded(path, "RGB" if channels == 3 else "L")
    if flip and torch.rand(1).item() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    im = center_crop(im, crop_size)
    if im.size != (image_size, image_size):
        im = im.resize((image_size, image_size), Image.BILINEAR)
    pixels = np.asarray(im)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    return to_unit_range(pixels).permute(2, 0, 1).contiguous()


class LabelledFiles(Dataset):
    """``{"image": C x S x S in [-1, 1], "label": ...}`` for each file, read when asked for.

    ``labels``: ``N x K`` 0/1 floats (multi-label) or ``N`` class indices (single-label);
    the default collate stacks them into the batch layouts of :mod:`ganrun.data.labels`.
    An unreadable file stops with its path, or under ``on_bad_file="skip"`` gives way to the
    next readable file and its label (:mod:`ganrun.data.bad_files`)."""

    def __init__(self, files: Sequence[Path], labels: torch.Tensor, *, crop_size: int,
                 image_size: int, flip: bool, channels: int = 3, source: str = "data.root",
                 on_bad_file: str = "stop"):
        if len(files) != len(labels):
            raise ValueError("files and labels differ in length")
        self.files = list(files)
        self.labels = labels
        self.crop_size, self.image_size = crop_size, image_size
        self.flip, self.channels = flip, channels
        self.bad_files = BadFiles(on_bad_file, source)  # source: the key a bad file is blamed on

    def __len__(self) -> int:
        return len(self.files)

    @property
    def skipped(self) -> int:
        """Unreadable files skipped so far (``data.on_bad_file: skip``)."""
        return self.bad_files.skipped

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        j, image = self.bad_files.read(self.files, i, self._read)
        return {"image": image, "label": self.labels[j]}

    def _read(self, path: Path) -> torch.Tensor:
        return crop_resize_image(path, self.crop_size, self.image_size, self.flip, self.channels)
