"""Class activation maps (Zhou et al. 2016), the boxes drawn from them, and a saliency baseline.

* CAM, Sec. 2: M_c(x, y) = sum_k w_k^c f_k(x, y), from the last conv's maps f_k and the
  weights w^c of the linear layer after global average pooling; since
  S_c = sum_k w_k^c mean_{x,y} f_k(x, y) + b_c, the mean of M_c plus b_c is the logit S_c.
* Box, Sec. 3.1: the tight box of the largest connected region above 20% of the map's
  maximum; a localisation counts when the class is right and IoU with the true box >= 0.5.
* Baseline: gradient saliency (Simonyan et al. 2014), |d S_c / d x| maxed over channels.
* A GAN discriminator's decision: a Flatten + Linear head decomposes exactly into one term
  per location, sum_k w_{k,x,y} f_k(x, y) (its sum plus the bias is the logit); a PatchGAN's
  output is already a map.

Boxes are ``(x0, y0, x1, y1)`` in pixels, inclusive-exclusive (``ganrun.data.canvas``).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

IOU_HIT = 0.5  # the paper's localisation criterion
THRESHOLD = 0.2  # share of the map's maximum kept for the box (Sec. 3.1)


# ------------------------------------------------------------------------------ maps
def class_activation_maps(maps: torch.Tensor, weight: torch.Tensor,
                          classes: torch.Tensor) -> torch.Tensor:
    """M_c = sum_k w_k^c f_k for each image's class: maps N x K x h x w, weight
    num_classes x K (the linear layer's), classes N -> N x h x w."""
    return torch.einsum("nk,nkhw->nhw", weight[classes].to(maps.dtype), maps)


def upsample(cam: torch.Tensor, size: int | Sequence[int]) -> torch.Tensor:
    """Maps ``N x h x w`` (or ``N x C x h x w``) resized bilinearly to the image's size."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    if cam.dim() == 3:
        return F.interpolate(cam[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
    return F.interpolate(cam, size=size, mode="bilinear", align_corners=False)


@torch.no_grad()
def cam_for(model: nn.Module, x: torch.Tensor,
            classes: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """CAMs of ``model`` (with ``feature_maps`` and ``fc``) upsampled to ``x``'s size.

    ``classes`` None: each image's predicted class. Returns (maps N x H x W, classes N).
    Put the model in eval mode first.
    """
    maps = model.feature_maps(x)
    if classes is None:
        classes = model.fc(maps.mean(dim=(2, 3))).argmax(dim=1)
    cams = class_activation_maps(maps, model.fc.weight, classes)
    return upsample(cams, x.shape[-2:]), classes


def saliency_map(model: nn.Module, x: torch.Tensor,
                 classes: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Simonyan et al. 2014, Sec. 3: |d S_c / d x| of the class score (logit), the maximum
    over the image's channels: (maps N x H x W, classes N). ``classes`` None: each image's
    predicted class, from the same forward pass. Put the model in eval mode first."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        if classes is None:
            classes = logits.detach().argmax(dim=1)
        (grad,) = torch.autograd.grad(logits.gather(1, classes.view(-1, 1)).sum(), x)
    return grad.abs().amax(dim=1), classes


# ------------------------------------------------------------------------------ boxes
def box_from_map(heatmap: torch.Tensor | np.ndarray,
                 threshold: float = THRESHOLD) -> tuple[int, int, int, int]:
    """Tight (x0, y0, x1, y1) box of the largest 4-connected region >= threshold x max.

    A map with no positive maximum gives the whole image."""
    m = heatmap.detach().cpu().numpy() if isinstance(heatmap, torch.Tensor) else np.asarray(heatmap)
    if m.ndim != 2:
        raise ValueError(f"expected an H x W map, got shape {m.shape}")
    top = m.max()
    if not top > 0:
        return 0, 0, m.shape[1], m.shape[0]
    labels, n = ndimage.label(m >= threshold * top)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0  # background
    ys, xs = np.nonzero(labels == sizes.argmax())
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def boxes_from_maps(heatmaps: torch.Tensor, threshold: float = THRESHOLD) -> torch.Tensor:
    """:func:`box_from_map` of each of ``N x H x W`` maps: N x 4 float."""
    return torch.tensor([box_from_map(m, threshold) for m in heatmaps], dtype=torch.float32)


def iou(box_a, box_b) -> torch.Tensor:
    """Intersection over union of inclusive-exclusive boxes ``(..., 4)``, broadcast."""
    a, b = torch.as_tensor(box_a, dtype=torch.float32), torch.as_tensor(box_b, dtype=torch.float32)
    w = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    h = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = w * h
    area = lambda box: (box[..., 2] - box[..., 0]) * (box[..., 3] - box[..., 1])  # noqa: E731
    union = area(a) + area(b) - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


# ------------------------------------------------------------------------------ evaluation
def localisation_scores(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                        boxes: torch.Tensor, method: str = "cam", threshold: float = THRESHOLD,
                        batch_size: int = 250) -> dict[str, float]:
    """Top-1 classification and localisation accuracy (Sec. 3.1's protocol).

    The map of the predicted class gives the box; a localisation counts when that class is
    the label and IoU with the true box >= 0.5. ``method``: ``cam`` or ``saliency``.
    Returns ``cls_acc``, ``loc_acc`` and ``mean_iou``; the model's mode is restored.
    """
    if method not in ("cam", "saliency"):
        raise ValueError(f"method must be 'cam' or 'saliency', got {method!r}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    right, located, overlap = [], [], []
    try:
        for i in range(0, len(images), batch_size):
            x = images[i : i + batch_size].to(device)
            if method == "cam":  # one forward: the maps give the logits and the CAMs
                heat, predicted = cam_for(model, x)
            else:  # one forward and backward: the predicted class's score's gradient
                heat, predicted = saliency_map(model, x)
            found = boxes_from_maps(heat.cpu(), threshold)
            ious = iou(found, boxes[i : i + batch_size].cpu())
            hit = (predicted.cpu() == labels[i : i + batch_size].cpu())
            right.append(hit)
            located.append(hit & (ious >= IOU_HIT))
            overlap.append(ious)
    finally:
        model.train(was_training)
    mean = lambda parts: torch.cat(parts).float().mean().item()  # noqa: E731
    return {"cls_acc": mean(right), "loc_acc": mean(located), "mean_iou": mean(overlap)}


# ------------------------------------------------------------------------------ discriminators
def linear_head_contributions(maps: torch.Tensor, weight: torch.Tensor,
                              order: str = "hwc") -> torch.Tensor:
    """Per-location terms sum_k w_{k,x,y} f_k(x, y) of a Flatten + Linear head.

    ``maps``: N x K x h x w, the last conv's output; ``weight``: the linear layer's weight,
    out x (K*h*w), or N x out x (K*h*w) for a weight that differs by image (a projection
    discriminator's fc.weight + embed(y)); ``order``: how the head flattened the maps,
    ``hwc`` (Keras, ganrun's dcgan) or ``chw`` (``torch.flatten``). Returns N x out x h x w;
    their sum over (h, w) plus the bias is the logit, exactly.
    """
    n, k, h, w = maps.shape
    if weight.shape[-1] != k * h * w:
        raise ValueError(f"weight has {weight.shape[-1]} inputs, the maps {k}x{h}x{w}")
    if order == "hwc":
        terms = maps.permute(0, 2, 3, 1)[:, None] * weight.unflatten(-1, (h, w, k))
        return terms.sum(dim=-1)
    if order == "chw":
        return (maps[:, None] * weight.unflatten(-1, (k, h, w))).sum(dim=2)
    raise ValueError(f"order must be 'hwc' or 'chw', got {order!r}")


def _last_conv_channels(net: nn.Module) -> int:
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("the discriminator has no Conv2d")
    return convs[-1].out_channels


def dense_head_map(D: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The decision map of a discriminator with ``features(x)`` (the last map flattened
    channels-last, as ganrun's dcgan ``Discriminator``) and a linear head ``fc``:
    N x 1 x h x w per-location terms; ``.sum((2, 3)) + D.fc.bias`` is ``D(x)``.
    Put D in eval mode (dropout) first."""
    flat = D.features(x)
    k = _last_conv_channels(D)
    side = math.isqrt(flat.shape[1] // k)
    if side * side * k != flat.shape[1]:
        raise ValueError(f"{flat.shape[1]} features are not a square map of {k} channels")
    maps = flat.view(-1, side, side, k).permute(0, 3, 1, 2)  # back to N x K x h x w
    return linear_head_contributions(maps, D.fc.weight, order="hwc")


def patch_map(D: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A PatchGAN's decision map: its output itself, N x 1 x h x w (one logit per patch)."""
    out = D(x)
    if out.dim() != 4 or out.shape[1] != 1:
        raise ValueError(f"a PatchGAN gives N x 1 x h x w, this one {tuple(out.shape)}")
    return out
