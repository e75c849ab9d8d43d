"""``cam.discriminator``: where a GAN discriminator's real/fake decision comes from.

For each discriminator of a run, a few real and generated images (``Trainer.judged``) and
the map of its decision over them, saved as overlays every evaluation:

* a Flatten + Linear head (ganrun's dcgan ``Discriminator``): the logit is exactly
  ``b + sum_{x,y} sum_k w_{k,x,y} f_k(x, y)``; the map is the per-location term
  (:func:`ganrun_plugins.cam.cam.dense_head_map`), positive where the location argues "real";
* a PatchGAN (cyclegan): its output already is one logit per patch
  (:func:`ganrun_plugins.cam.cam.patch_map`).

Red is "real", blue "fake" on each image's own colour scale.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ganrun.schema import limit
from ganrun_plugins.cam.cam import dense_head_map, patch_map, upsample
from ganrun_plugins.cam.overlay import save_overlays

FOLDER = "discriminator_maps"


@dataclass
class CamSection:
    """The ``cam`` recipe section, for GAN runs of any method."""

    discriminator: bool = limit(
        False, doc="save decision maps of each discriminator every evaluation")
    images: int = limit(4, ge=1, doc="real and generated images shown for each")


def decision_map(D: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """``N x 1 x h x w`` map of ``D``'s decision on ``x``, or None for a head it cannot split
    (a discriminator that also takes labels, say)."""
    if len(inspect.signature(D.forward).parameters) != 1:
        return None
    if hasattr(D, "features") and isinstance(getattr(D, "fc", None), nn.Linear):
        return dense_head_map(D, x)
    out = D(x)
    return patch_map(D, x) if out.dim() == 4 else None


def save_decision_maps(trainer, real: torch.Tensor | None, folder: Path, epoch: int,
                       n: int) -> dict[str, str]:
    """Overlays of each discriminator's decision maps; returns report artifacts by name."""
    written = {}
    trainer.train(False)
    try:
        with torch.no_grad():
            for name, (shown_real, shown_fake) in trainer.judged(real, n).items():
                D = trainer.discriminators[name]
                images = torch.cat([shown_real, shown_fake])
                maps = decision_map(D, images)
                if maps is None:
                    continue
                heat = upsample(maps[:, 0], images.shape[-2:])
                path = folder / f"{name}_epoch_{epoch:04d}.png"
                save_overlays(path, images.cpu(), heat.cpu(), nrow=len(shown_real))
                written[f"{FOLDER}/{name}"] = str(path)
    finally:
        trainer.train(True)
    return written
