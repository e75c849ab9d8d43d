"""The tiny CNN behind the judges of the embedded StarGAN task (``attributes_mnist``,
``styles_mnist``): 3 x 32 x 32 images in [-1, 1] -> one logit per attribute or class."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ARCHITECTURE = ("conv3x3(16) -> pool -> conv3x3(32) -> pool -> conv3x3(32) -> spatial mean, "
                "max -> fc, ReLU")


class ConvNet32(nn.Module):
    """:data:`ARCHITECTURE`; input 3 x 32 x 32 in [-1, 1]."""

    num_features = 64  # the spatial mean and max of conv3's 32 channels

    def __init__(self, num_classes: int, multi_label: bool) -> None:
        super().__init__()
        self.num_classes = num_classes  # logits: one per class, or per attribute
        self.multi_label = multi_label  # True: each logit > 0 is an attribute present
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)  # 32 -> 32, pool -> 16
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)  # 16 -> 16, pool -> 8
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)  # 8 -> 8
        self.fc = nn.Linear(self.num_features, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """N x 3 x 32 x 32 in [-1, 1] -> N x num_features."""
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv3(x))
        return torch.cat([x.mean((2, 3)), x.amax((2, 3))], 1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """N x 3 x 32 x 32 in [-1, 1] -> N x num_classes."""
        return self.fc(self.features(x))

    forward = logits
