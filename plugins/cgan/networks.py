"""Class-conditional generator and discriminator built from the dcgan plugin's networks.

* Generator: Mirza & Osindero (2014) join the condition to the generator's input; here the
  one-hot class is concatenated to the noise and fed to the tutorial's generator, whose
  dense layer is simply ``num_classes`` inputs wider.
* Discriminator: a projection discriminator (Miyato & Koyama 2018, eq. 3),
  ``D(x, y) = fc(h(x)) + <embed(y), h(x)>`` on the tutorial discriminator's flattened
  features ``h``. The class enters where the decision is made, through an inner product,
  instead of as extra input channels the convolutions must learn to route; Miyato & Koyama
  found it trains more stably and separates classes better than concatenating the label.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ganrun_plugins.dcgan.networks import Discriminator, Generator


class ConditionalGenerator(nn.Module):
    """(z: N x noise_dim, y: N class indices) -> images N x C x 28 x 28 in [-1, 1]."""

    def __init__(self, num_classes: int, noise_dim: int, widths: Sequence[int], channels: int,
                 slope: float, bn_momentum: float, bn_eps: float, tf_padding: bool):
        super().__init__()
        self.num_classes = num_classes
        self.net = Generator(noise_dim + num_classes, widths, channels, slope, bn_momentum,
                             bn_eps, tf_padding)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(y, self.num_classes).to(z.dtype)
        return self.net(torch.cat([z, onehot], dim=1))


class ProjectionDiscriminator(nn.Module):
    """(x: images, y: class indices) -> one logit per image (N x 1)."""

    def __init__(self, num_classes: int, widths: Sequence[int], channels: int, slope: float,
                 dropout: float, tf_padding: bool):
        super().__init__()
        self.net = Discriminator(widths, channels, slope, dropout, tf_padding)
        self.embed = nn.Embedding(num_classes, self.net.fc.in_features)
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.net.features(x)
        return self.net.fc(h) + (self.embed(y) * h).sum(dim=1, keepdim=True)
