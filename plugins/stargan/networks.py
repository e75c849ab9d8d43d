"""StarGAN's networks, as the official PyTorch implementation (yunjey/stargan, model.py)
builds them, with its layer names and indices (``main``, ``conv1``, ``conv2``), so an
official state dict loads key for key. PyTorch's default initialisation, as there.

Generator (Choi et al. 2018, Sec. 3 and appendix): the target domain label is tiled over
the image and joined to it as input channels; conv 7x7, two 4x4 stride-2 convs down, residual
blocks, two 4x4 transposed convs up, conv 7x7, tanh; instance norm with affine parameters
and running statistics; no conv biases. Discriminator: a PatchGAN of 4x4 stride-2 convs with
LeakyReLU 0.01 and no normalisation, and two heads: ``conv1`` judges real/fake per patch
(D_src), ``conv2`` classifies the domain (D_cls) over the whole remaining map.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class InstanceNorm(nn.InstanceNorm2d):
    """``InstanceNorm2d(affine=True, track_running_stats=True)``, as the official code builds
    it (its state dict has running statistics), normalising with each image's own statistics
    in eval mode too: the official code never calls ``eval()``, so its test images are
    normalised that way. Running statistics are tracked while training and never used."""

    def __init__(self, channels: int):
        super().__init__(channels, affine=True, track_running_stats=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return super().forward(x)
        return F.instance_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)


class ResidualBlock(nn.Module):
    """x + [conv 3x3, IN, ReLU, conv 3x3, IN](x), convs without bias."""

    def __init__(self, dim: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), InstanceNorm(dim), nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), InstanceNorm(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


def tile_label(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``[x, c]``: the ``N x c_dim`` label repeated over every pixel as extra channels (Sec. 3)."""
    c = c.to(x.dtype).view(c.size(0), c.size(1), 1, 1).expand(-1, -1, x.size(2), x.size(3))
    return torch.cat([x, c], dim=1)


class Generator(nn.Module):
    """G(x, c): ``N x channels x H x W`` in [-1, 1] and ``N x c_dim`` target label -> image.

    H and W must be multiples of 4 (two stride-2 downsamplings and their inverses).
    """

    def __init__(self, conv_dim: int = 64, c_dim: int = 5, repeat_num: int = 6,
                 channels: int = 3):
        super().__init__()
        self.c_dim = c_dim
        layers: list[nn.Module] = [nn.Conv2d(channels + c_dim, conv_dim, 7, 1, 3, bias=False),
                                   InstanceNorm(conv_dim), nn.ReLU(inplace=True)]
        dim = conv_dim
        for _ in range(2):  # down-sampling
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1, bias=False), InstanceNorm(dim * 2),
                       nn.ReLU(inplace=True)]
            dim *= 2
        layers += [ResidualBlock(dim) for _ in range(repeat_num)]  # bottleneck
        for _ in range(2):  # up-sampling
            layers += [nn.ConvTranspose2d(dim, dim // 2, 4, 2, 1, bias=False),
                       InstanceNorm(dim // 2), nn.ReLU(inplace=True)]
            dim //= 2
        layers += [nn.Conv2d(dim, channels, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.main(tile_label(x, c))


class Discriminator(nn.Module):
    """D(x) -> (``N x 1 x h x w`` real/fake scores, ``N x c_dim`` domain logits).

    ``repeat_num`` 4x4 stride-2 convs take ``image_size`` to ``image_size / 2^repeat_num``;
    the domain head's kernel covers that whole map (2x2 at 128 with 6 convs).
    """

    def __init__(self, image_size: int = 128, conv_dim: int = 64, c_dim: int = 5,
                 repeat_num: int = 6, channels: int = 3):
        super().__init__()
        kernel = image_size // 2 ** repeat_num
        if kernel < 1 or kernel * 2 ** repeat_num != image_size:
            raise ValueError(f"image_size {image_size} is not a multiple of 2^{repeat_num}")
        layers: list[nn.Module] = [nn.Conv2d(channels, conv_dim, 4, 2, 1), nn.LeakyReLU(0.01)]
        dim = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            dim *= 2
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(dim, 1, 3, 1, 1, bias=False)  # D_src
        self.conv2 = nn.Conv2d(dim, c_dim, kernel, bias=False)  # D_cls

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(x)
        return self.conv1(h), self.conv2(h).flatten(1)
