"""A set of images measured once by the evaluator: what every metric reads."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganrun.metrics.features import _as_float_images, module_device


@dataclass
class MeasuredSet:
    """Images, their classes (asked for, or the real labels; None if unknown), and the
    evaluator's features, class logits and predicted classes of them."""

    images: torch.Tensor
    labels: torch.Tensor | None
    features: torch.Tensor
    logits: torch.Tensor

    @property
    def predicted(self) -> torch.Tensor:
        """The evaluator's class for each image."""
        return self.logits.argmax(1)

    @classmethod
    def measure(cls, evaluator: nn.Module, images: torch.Tensor,
                labels: torch.Tensor | None = None) -> "MeasuredSet":
        images = images.detach().cpu().float()
        with torch.no_grad():
            features, logits = features_and_logits(evaluator, images)
            return cls(images, None if labels is None else labels.cpu(), features, logits)

    @property
    def classes(self) -> torch.Tensor:
        """The classes to group samples by: the known labels, else the predicted ones."""
        return self.labels if self.labels is not None else self.predicted


def features_and_logits(evaluator: nn.Module, images: torch.Tensor,
                        batch: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """``evaluator.features`` (on its device, float32) and class logits (CPU) of ``images``.

    One pass where the evaluator has ``classify(features)``; image chunks go in
    channels-last, where oneDNN's convolutions and pooling are fastest on a CPU.
    """
    device = module_device(evaluator)
    classify = getattr(evaluator, "classify", None)
    was_training = evaluator.training
    evaluator.eval()
    features, logits = [], []
    try:
        for x in images.split(batch):
            x = _as_float_images(x).to(device).contiguous(memory_format=torch.channels_last)
            f = evaluator.features(x)
            features.append(f.float())
            logits.append((classify(f) if classify is not None else evaluator.logits(x)).float().cpu())
    finally:
        evaluator.train(was_training)
    if not features:
        return (torch.zeros(0, int(evaluator.num_features), device=device),
                torch.zeros(0, int(getattr(evaluator, "num_classes", 0))))
    return torch.cat(features), torch.cat(logits)
