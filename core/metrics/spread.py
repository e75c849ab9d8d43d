"""How much a set of images varies: the spread the translation health monitors compare.

``spread(x)`` is the root-mean-square distance of the images from their mean image, per
pixel: sqrt(mean over images and pixels of (x - mean image)^2). Identical images give 0;
it is the mean pairwise distance up to a factor sqrt(2), at O(N) cost instead of O(N^2),
cheap enough to measure at every evaluation. ``class_spread`` is its mean within classes:
the diversity a translation keeps inside each class (Zhu et al. 2017 note that CycleGAN can
map many inputs of a class to one output; Chu et al. 2017 that the cycle can still hold).
"""
from __future__ import annotations

import torch

__all__ = ["spread", "class_spread"]


def spread(images: torch.Tensor) -> float:
    """RMS distance of ``images`` (N x ...) from their mean image, per pixel; 0 for N < 2."""
    if len(images) < 2:
        return 0.0
    x = images.detach().float().flatten(1)
    return float((x - x.mean(0)).pow(2).mean().sqrt())


def class_spread(images: torch.Tensor, classes: torch.Tensor) -> float | None:
    """The mean of :func:`spread` over the classes with at least two images; None if none."""
    values = [spread(images[classes == c]) for c in classes.unique()
              if int((classes == c).sum()) >= 2]
    return sum(values) / len(values) if values else None
