"""``lenet_mnist32``: ``lenet_mnist`` reading 3 x 32 x 32 RGB digits (the embedded StarGAN
task's images) through :func:`ganrun.data.mnist32.as_mnist`, so a method can check that a
translation kept the digit. Nothing to train: it is the shipped ``lenet_mnist``."""
from __future__ import annotations

import torch
from torch import nn

from ganrun.data.mnist32 import as_mnist
from ganrun.evaluators.lenet import LeNet, load_lenet_mnist


class LeNet32(nn.Module):
    """A :class:`~ganrun.evaluators.lenet.LeNet` behind ``as_mnist``; input 3 x 32 x 32 in
    [-1, 1]."""

    num_classes = LeNet.num_classes
    num_features = LeNet.num_features
    multi_label = False

    def __init__(self, lenet: LeNet) -> None:
        super().__init__()
        self.lenet = lenet

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """N x 3 x 32 x 32 in [-1, 1] -> N x num_features (lenet's penultimate layer)."""
        return self.lenet.features(as_mnist(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """N x 3 x 32 x 32 in [-1, 1] -> N x 10 digit logits."""
        return self.lenet.logits(as_mnist(x))

    forward = logits


def load_lenet_mnist32() -> LeNet32:
    """The shipped lenet_mnist behind ``as_mnist``, in eval mode, with gradients off."""
    return LeNet32(load_lenet_mnist()).eval().requires_grad_(False)
