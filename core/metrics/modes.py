"""Mode metrics from the evaluator's class predictions on generated samples.

Mode coverage counts the classes that receive at least one sample (the "modes captured"
of Metz et al. 2017, "Unrolled GANs", section 3.3.1 / table 1, with a pretrained MNIST
classifier). ``class_kl`` is the KL divergence between the generated and the real class
histograms, KL(p_gen || p_real) = sum_c p_gen(c) log(p_gen(c) / p_real(c)) (the "KL" column
of the same table), with additive smoothing so empty bins stay finite.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ganrun.metrics.features import _as_float_images, module_device

__all__ = ["class_logits", "predict_classes", "confident_share", "class_histogram", "mode_coverage", "class_kl"]


@torch.no_grad()
def class_logits(evaluator: nn.Module, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """``evaluator.logits(x)`` over ``images`` in chunks: a CPU float32 tensor N x classes."""
    device = module_device(evaluator)
    was_training = evaluator.training
    evaluator.eval()
    try:
        out = [evaluator.logits(_as_float_images(x).to(device)).float().cpu()
               for x in images.split(batch)]
    finally:
        evaluator.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, int(getattr(evaluator, "num_classes", 0)))


def predict_classes(evaluator: nn.Module, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """``evaluator.logits(x).argmax(1)`` over ``images`` in chunks: a CPU int64 tensor of N."""
    logits = class_logits(evaluator, images, batch)
    return logits.argmax(1) if len(logits) else torch.zeros(0, dtype=torch.long)


def confident_share(logits: torch.Tensor, threshold: float = 0.9) -> float:
    """Share of images whose most likely class has softmax probability >= ``threshold``:
    how many samples the evaluator reads as one unambiguous digit."""
    if len(logits) == 0:
        return float("nan")
    return (logits.softmax(1).amax(1) >= threshold).float().mean().item()


def _labels(pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class indices from indices (N) or logits / probabilities (N x num_classes)."""
    pred = torch.as_tensor(pred)
    if pred.dim() == 2:
        if pred.shape[1] != num_classes:
            raise ValueError(f"predictions: expected N x {num_classes}, got {tuple(pred.shape)}")
        pred = pred.argmax(1)
    pred = pred.reshape(-1).long().cpu()
    if len(pred) and (pred.min() < 0 or pred.max() >= num_classes):
        raise ValueError(f"predictions: class indices must lie in [0, {num_classes})")
    return pred


def class_histogram(pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts per class (float64, length ``num_classes``) of class indices or N x C logits."""
    return torch.bincount(_labels(pred, num_classes), minlength=num_classes).double()


def mode_coverage(pred_fake: torch.Tensor, num_classes: int) -> int:
    """How many of the ``num_classes`` classes get at least one generated sample."""
    return int((class_histogram(pred_fake, num_classes) > 0).sum())


def class_kl(pred_fake: torch.Tensor, real_labels_or_hist: torch.Tensor, num_classes: int,
             eps: float = 1e-6) -> float:
    """KL(generated class histogram || real class histogram), in nats.

    ``pred_fake``: class indices (N) or N x C logits. ``real_labels_or_hist``: an integer
    tensor of real labels, or a floating-point tensor of ``num_classes`` counts or
    probabilities. Both histograms are normalised, get ``eps`` added to every bin and are
    renormalised, so a class missing from either side gives a large but finite value.
    0 when the proportions match; log(num_classes / m) for m equally filled classes against
    a uniform real histogram (log 5 = 1.609 for 2 of 10).
    """
    p = class_histogram(pred_fake, num_classes)
    real = torch.as_tensor(real_labels_or_hist)
    if real.is_floating_point():
        q = real.reshape(-1).double().cpu()
        if len(q) != num_classes:
            raise ValueError(f"real histogram: expected {num_classes} bins, got {len(q)}")
        if (q < 0).any():
            raise ValueError("real histogram: counts must be >= 0")
    else:
        q = class_histogram(real, num_classes)
    if p.sum() == 0 or q.sum() == 0:
        raise ValueError("class_kl: both histograms need at least one sample")
    p, q = p / p.sum() + eps, q / q.sum() + eps
    p, q = p / p.sum(), q / q.sum()
    kl = float((p * (p / q).log()).sum())
    return max(kl, 0.0) if math.isfinite(kl) else kl
