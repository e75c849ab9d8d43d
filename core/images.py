"""Image files: grids of images in [-1, 1] as PNGs, and single images read and written
with Pillow (no torchvision)."""
from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError


def make_grid(images: torch.Tensor, nrow: int, pad: int = 2, scale: int = 1) -> np.ndarray:
    """Tile ``N x C x H x W`` images in [-1, 1] into an ``H' x W' (x 3)`` uint8 array.

    ``nrow`` images per row, ``pad`` pixels of white between them, each pixel repeated
    ``scale`` times so that 28x28 digits are large enough to read.
    """
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected N x (1|3) x H x W images, got {tuple(images.shape)}")
    x = images.detach().float().cpu().clamp(-1, 1)
    x = ((x + 1) * 127.5).round().to(torch.uint8)
    if scale > 1:
        x = x.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)
    n, c, h, w = x.shape
    ncol = min(nrow, n)
    rows = math.ceil(n / ncol)
    grid = torch.full((c, rows * (h + pad) + pad, ncol * (w + pad) + pad), 255, dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, top : top + h, left : left + w] = x[i]
    out = grid.permute(1, 2, 0).numpy()
    return out[..., 0] if c == 1 else out


# what a grid file's suffix asks for (compared in lower case): Pillow's format, its options
GRID_FORMATS = {".png": ("PNG", {}), ".jpg": ("JPEG", {"quality": 95}),
                ".jpeg": ("JPEG", {"quality": 95})}


def save_grid(path: str | Path, images: torch.Tensor, nrow: int, scale: int = 3,
              pad: int = 2) -> Path:
    """Write the grid of ``images`` atomically, in the format its suffix names (PNG or JPEG);
    the same images always give the same bytes."""
    from ganrun.checkpoint import atomic_write

    path = Path(path)
    if path.suffix.lower() not in GRID_FORMATS:
        raise ValueError(f"{path}: a grid is written as {', '.join(GRID_FORMATS)}")
    fmt, options = GRID_FORMATS[path.suffix.lower()]
    grid = Image.fromarray(make_grid(images, nrow, pad=pad, scale=scale))
    return atomic_write(path, lambda tmp: grid.save(tmp, format=fmt, **options))


# the official CycleGAN make_dataset's extensions (compared in lower case)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff", ".webp")


class UnreadableImage(OSError):
    """An image file that is missing, not an image, or damaged; ``reason`` says which."""

    def __init__(self, path: str | Path, reason: str, missing: bool = False):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason, self.missing = Path(path), reason, missing


# what Pillow raises while decoding a damaged file (UnidentifiedImageError is an OSError)
_DAMAGED = (OSError, SyntaxError, EOFError, ValueError, struct.error, zlib.error,
            Image.DecompressionBombError)


def open_decoded(path: str | Path, mode: str) -> Image.Image:
    """The whole image at ``path``, decoded now and converted to ``mode`` ("RGB", "L").

    Pillow decodes lazily; decoding here, with ``ImageFile.LOAD_TRUNCATED_IMAGES`` left
    False, turns a truncated or corrupt file into :class:`UnreadableImage` at once, never
    into a half-grey picture or an error deep inside a later step."""
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert(mode)
    except FileNotFoundError as e:
        raise UnreadableImage(path, "not found", missing=True) from e
    except UnidentifiedImageError as e:
        raise UnreadableImage(path, "not an image Pillow can identify") from e
    except _DAMAGED as e:
        if isinstance(e, OSError) and e.strerror:  # permission denied, a folder, ...
            raise UnreadableImage(path, e.strerror.lower()) from e
        text = str(e) or type(e).__name__
        kind = "truncated" if "truncat" in text.lower() else "damaged"
        raise UnreadableImage(path, f"{kind}: {text}") from e


def read_image(path: str | Path, channels: int = 3, size: int | None = None) -> torch.Tensor:
    """An image file as ``C x H x W`` in [-1, 1] (RGB or grey); resized (bicubic) to
    ``size x size`` when given, as CycleGAN's data pipeline does. A file that cannot be
    decoded in full raises :class:`UnreadableImage` (an ``OSError``)."""
    im = open_decoded(path, "RGB" if channels == 3 else "L")
    if size is not None:
        im = im.resize((size, size), Image.BICUBIC)
    pixels = np.asarray(im, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    return torch.from_numpy((pixels - 127.5) / 127.5).permute(2, 0, 1).contiguous()


def save_image(path: str | Path, image: torch.Tensor) -> Path:
    """One ``C x H x W`` image in [-1, 1] as a PNG or JPEG (no padding, no scaling)."""
    return save_grid(path, image.unsqueeze(0), nrow=1, pad=0, scale=1)
