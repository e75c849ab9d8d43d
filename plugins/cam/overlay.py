"""Heatmaps over images, with boxes drawn: PNGs written with Pillow and a matplotlib colormap."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image, ImageDraw

FOUND = (255, 255, 255)  # the box drawn from the map
TRUE = (0, 255, 0)  # the ground-truth box


def render_overlay(image: torch.Tensor, heatmap: torch.Tensor, box: Sequence[float] | None = None,
                   true_box: Sequence[float] | None = None, scale: int = 4, alpha: float = 0.5,
                   cmap: str = "jet") -> Image.Image:
    """One RGB picture: ``image`` (C x H x W in [-1, 1]) in grey, ``heatmap`` (H x W, scaled
    to its own min..max) blended over it with ``alpha``, and the boxes (x0, y0, x1, y1,
    inclusive-exclusive): ``box`` in white, ``true_box`` in green. ``scale``: pixel size."""
    grey = ((image.detach().float().cpu().clamp(-1, 1).mean(dim=0) + 1) / 2).numpy()
    heat = heatmap.detach().float().cpu().numpy()
    span = heat.max() - heat.min()
    heat = (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)
    colour = colormaps[cmap](heat)[..., :3]
    rgb = (1 - alpha) * grey[..., None] + alpha * colour
    picture = Image.fromarray((rgb * 255).round().astype(np.uint8))
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    draw = ImageDraw.Draw(picture)
    for b, colour in ((true_box, TRUE), (box, FOUND)):
        if b is not None:
            x0, y0, x1, y1 = (float(v) * scale for v in b)
            draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=colour, width=max(1, scale // 2))
    return picture


def save_overlays(path: str | Path, images: torch.Tensor, heatmaps: torch.Tensor,
                  boxes: torch.Tensor | None = None, true_boxes: torch.Tensor | None = None,
                  nrow: int = 4, scale: int = 4, pad: int = 4) -> Path:
    """Tile :func:`render_overlay` of each image (N x C x H x W, maps N x H x W) into a PNG."""
    pictures = [render_overlay(images[i], heatmaps[i],
                               None if boxes is None else boxes[i],
                               None if true_boxes is None else true_boxes[i], scale)
                for i in range(len(images))]
    w, h = pictures[0].size
    ncol = min(nrow, len(pictures))
    rows = math.ceil(len(pictures) / ncol)
    sheet = Image.new("RGB", (ncol * (w + pad) + pad, rows * (h + pad) + pad), (255, 255, 255))
    for i, picture in enumerate(pictures):
        r, c = divmod(i, ncol)
        sheet.paste(picture, (pad + c * (w + pad), pad + r * (h + pad)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, format="PNG")
    return path
