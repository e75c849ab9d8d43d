"""Evaluator features for the sample-quality metrics.

:class:`EvaluatorFeatures` adapts a ganrun evaluator, or any network with
``num_features`` and ``features(x)`` on images in [-1, 1] (the FID Inception-v3 too), to the ``feature=`` argument of torchmetrics'
``FrechetInceptionDistance`` and ``KernelInceptionDistance``, which hand images to it as
they were given.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["EvaluatorFeatures", "batched_features", "module_device"]


def module_device(module: nn.Module) -> torch.device:
    """The device of ``module``'s first parameter or buffer; CPU for a module with neither."""
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return torch.device("cpu")


def _as_float_images(x: torch.Tensor) -> torch.Tensor:
    """float32 images in [-1, 1]: uint8 [0, 255] is rescaled, any other dtype only cast."""
    if x.dtype == torch.uint8:
        return x.to(torch.float32) / 127.5 - 1.0
    return x.to(torch.float32)


class EvaluatorFeatures(nn.Module):
    """``evaluator.features(x)`` as a frozen feature extractor for torchmetrics' ``feature=``.

    Casts its input to float32 itself (uint8 images in [0, 255] are mapped to [-1, 1]),
    moves it to the evaluator's device, runs without gradients with the evaluator in eval
    mode, and returns N x ``num_features`` features as ``out_dtype`` (float64 makes
    torchmetrics' FID return a float64 value instead of casting back to float32).
    A 2-D N x ``num_features`` input is taken as features already computed (by
    :func:`batched_features`) and only cast, so one pass of the evaluator can feed every
    metric.
    """

    def __init__(self, evaluator: nn.Module, out_dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.evaluator = evaluator.eval().requires_grad_(False)
        self.num_features = int(evaluator.num_features)
        self.out_dtype = out_dtype

    def train(self, mode: bool = True) -> "EvaluatorFeatures":
        """Stays in eval mode: a parent's ``.train()`` must not switch dropout on."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        device = module_device(self.evaluator)
        if x.dim() == 2:
            if x.shape[1] != self.num_features:
                raise ValueError(f"features: expected N x {self.num_features}, "
                                 f"got {tuple(x.shape)}")
            return x.to(device, self.out_dtype)
        return self.evaluator.features(_as_float_images(x).to(device)).to(self.out_dtype)

    features = forward


@torch.no_grad()
def batched_features(evaluator: nn.Module, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """``evaluator.features`` over ``images`` in chunks of ``batch``: N x num_features float32.

    Images go to the evaluator's device a chunk at a time (uint8 [0, 255] is mapped to
    [-1, 1]); the features stay on that device.
    """
    if batch < 1:
        raise ValueError(f"batch: {batch} must be >= 1")
    device = module_device(evaluator)
    was_training = evaluator.training
    evaluator.eval()
    try:
        chunks = [evaluator.features(_as_float_images(x).to(device)) for x in images.split(batch)]
    finally:
        evaluator.train(was_training)
    if not chunks:
        return torch.zeros(0, int(evaluator.num_features), device=device)
    return torch.cat(chunks).to(torch.float32)
