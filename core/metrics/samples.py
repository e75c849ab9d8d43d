"""A set of images measured once by the evaluator: what every metric reads."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganrun.metrics.features import batched_features
from ganrun.metrics.modes import class_logits


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
            return cls(images, None if labels is None else labels.cpu(),
                       batched_features(evaluator, images), class_logits(evaluator, images))

    @property
    def classes(self) -> torch.Tensor:
        """The classes to group samples by: the known labels, else the predicted ones."""
        return self.labels if self.labels is not None else self.predicted
