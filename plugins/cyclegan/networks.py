"""CycleGAN's networks, as the official PyTorch implementation builds them.

``ResnetGenerator`` (Johnson et al. 2016's residual transformer, ``resnet_9blocks`` /
``resnet_6blocks``) and the 70x70 ``PatchDiscriminator`` (``n_layers=3``), with instance
norm (no affine parameters, no running statistics) and biases on every convolution, as the
official code uses when the norm is InstanceNorm. Layers sit in one ``nn.Sequential`` named
``model`` at the official indices, so an official state dict loads key for key
(:mod:`ganrun_plugins.cyclegan.official`).
"""
from __future__ import annotations

import torch
from torch import nn


def instance_norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ReflectionPad2d(nn.ReflectionPad2d):
    """``nn.ReflectionPad2d`` in its input's dtype even under autocast.

    CPU autocast runs reflection padding in fp32, so in bf16 every pad would cast the
    activation up and the next convolution cast it back down (and the same again for the
    gradients). Padding only moves values, so bf16 in is bf16 out here, as on CUDA.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x)


class ResnetBlock(nn.Module):
    """x + [pad 1, conv 3x3, IN, ReLU, (dropout 0.5), pad 1, conv 3x3, IN](x); no ReLU after."""

    def __init__(self, dim: int, dropout: bool = False):
        super().__init__()
        layers: list[nn.Module] = [ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), instance_norm(dim),
                                   nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), instance_norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """c7s1-ngf, d(2ngf), d(4ngf), n_blocks x R(4ngf), u(2ngf), u(ngf), c7s1-out, tanh.

    Image size must be a multiple of 4 (two stride-2 downsamplings and their inverses).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64,
                 n_blocks: int = 9, dropout: bool = False):
        super().__init__()
        layers: list[nn.Module] = [ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7),
                                   instance_norm(ngf), nn.ReLU(True)]
        for mult in (1, 2):  # downsampling
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                       instance_norm(ngf * mult * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, dropout) for _ in range(n_blocks)]
        for mult in (4, 2):  # upsampling
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1,
                                          output_padding=1),
                       instance_norm(ngf * mult // 2), nn.ReLU(True)]
        layers += [ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        # The output convolution (ngf -> 1 or 3 channels) with channels_last weights: oneDNN's
        # NCHW kernels for so few output channels are slow, their backward most (measured:
        # ~5% off the 28x28 strokes step on a 2-core CPU, fp32 and bf16). The rest stays
        # NCHW: instance norm would copy every channels_last activation back, which cost as
        # much as it saved (train.channels_last still converts everything).
        self.model[-2].to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: C64 (no norm) - C128 - C256 (stride 2) - C512 (stride 1) - 1-channel conv.

    Every 4x4 convolution pads 1; LeakyReLU 0.2. With ``n_layers=3`` each output sees a
    70x70 patch, and a 256x256 image gives a 30x30 map of real/fake scores (logits).
    """

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1),
                                   nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1),
                       instance_norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
