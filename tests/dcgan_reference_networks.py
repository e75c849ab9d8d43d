"""The dcgan networks as they were before the speed work (plugins/dcgan/networks.py at
commit cdfde3b): explicit F.pad, NCHW, nn.LeakyReLU then nn.Dropout. That version was proved
equal to the TF tutorial's Keras models by bench/keras_equivalence.py (max_abs_diff 6.56e-07),
so tests/test_dcgan_speedups.py holds the optimised networks to it, weight for weight,
without TensorFlow. A test oracle only: nothing in ganrun imports it.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

KERNEL = 5


def tf_same_padding(size: int, stride: int, kernel: int = KERNEL) -> tuple[int, int]:
    """TF 'same' padding (before, after) of one dimension: the odd pixel goes after."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SamePadConv(nn.Module):
    """Conv2d with TF 'same' padding (stride 2, kernel 5, even input: 1 before, 2 after)."""

    def __init__(self, c_in: int, c_out: int, stride: int, tf_padding: bool = True, bias: bool = True):
        super().__init__()
        self.tf_padding = tf_padding
        self.conv = nn.Conv2d(c_in, c_out, KERNEL, stride, padding=0 if tf_padding else 2, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tf_padding:
            stride = self.conv.stride[0]
            top, bottom = tf_same_padding(x.shape[-2], stride)
            left, right = tf_same_padding(x.shape[-1], stride)
            x = F.pad(x, (left, right, top, bottom))
        return self.conv(x)


class SamePadConvTranspose(nn.Module):
    """ConvTranspose2d with TF 'same' output size ``stride * input`` and TF's alignment."""

    def __init__(self, c_in: int, c_out: int, stride: int, tf_padding: bool = True, bias: bool = False):
        super().__init__()
        self.stride = stride
        self.tf_padding = tf_padding
        if stride == 1:
            self.deconv = nn.ConvTranspose2d(c_in, c_out, KERNEL, 1, padding=2, bias=bias)
        elif tf_padding:  # full output minus 1 before (padding=1); the crop drops 1 after
            self.deconv = nn.ConvTranspose2d(c_in, c_out, KERNEL, stride, padding=1, bias=bias)
        else:
            self.deconv = nn.ConvTranspose2d(c_in, c_out, KERNEL, stride, padding=2,
                                             output_padding=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2] * self.stride, x.shape[-1] * self.stride
        return self.deconv(x)[..., :h, :w]


def keras_batchnorm(n: int, dims: int, momentum: float, eps: float) -> nn.Module:
    """BatchNorm; ``momentum`` in PyTorch's convention (Keras' 0.99 is PyTorch's 0.01)."""
    cls = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
    return cls(n, eps=eps, momentum=momentum)


class Generator(nn.Module):
    """z (N x noise_dim) -> image (N x 1 x 28 x 28) in [-1, 1]; no biases anywhere.

    Dense(7*7*w0) - BN - LeakyReLU - reshape 7x7xw0 - ConvT(w1, s1) - BN - LeakyReLU -
    ConvT(w2, s2) - BN - LeakyReLU - ConvT(channels, s2) - tanh.
    """

    def __init__(
        self,
        noise_dim: int = 100,
        widths: Sequence[int] = (256, 128, 64),
        channels: int = 1,
        slope: float = 0.3,
        bn_momentum: float = 0.01,
        bn_eps: float = 1e-3,
        tf_padding: bool = True,
    ):
        super().__init__()
        w0, w1, w2 = widths
        self.noise_dim, self.w0 = noise_dim, w0
        self.fc = nn.Linear(noise_dim, 7 * 7 * w0, bias=False)
        self.bn0 = keras_batchnorm(7 * 7 * w0, 1, bn_momentum, bn_eps)
        self.up1 = SamePadConvTranspose(w0, w1, 1, tf_padding)
        self.bn1 = keras_batchnorm(w1, 2, bn_momentum, bn_eps)
        self.up2 = SamePadConvTranspose(w1, w2, 2, tf_padding)
        self.bn2 = keras_batchnorm(w2, 2, bn_momentum, bn_eps)
        self.up3 = SamePadConvTranspose(w2, channels, 2, tf_padding)
        self.act = nn.LeakyReLU(slope)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn0(self.fc(z)))
        x = x.view(-1, 7, 7, self.w0).permute(0, 3, 1, 2)  # Keras Reshape is channels-last
        x = self.act(self.bn1(self.up1(x)))
        x = self.act(self.bn2(self.up2(x)))
        return torch.tanh(self.up3(x))


class Discriminator(nn.Module):
    """image (N x C x 28 x 28) -> one logit per image (N x 1).

    Conv(w0, s2) - LeakyReLU - Dropout - Conv(w1, s2) - LeakyReLU - Dropout - Flatten
    (channels-last) - Dense(1).
    """

    def __init__(
        self,
        widths: Sequence[int] = (64, 128),
        channels: int = 1,
        slope: float = 0.3,
        dropout: float = 0.3,
        tf_padding: bool = True,
    ):
        super().__init__()
        w0, w1 = widths
        self.conv1 = SamePadConv(channels, w0, 2, tf_padding)
        self.conv2 = SamePadConv(w0, w1, 2, tf_padding)
        self.act = nn.LeakyReLU(slope)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(7 * 7 * w1, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The flattened last feature map (N x 7*7*w1), in Keras' channels-last order."""
        x = self.drop(self.act(self.conv1(x)))
        x = self.drop(self.act(self.conv2(x)))
        return x.permute(0, 2, 3, 1).flatten(1)  # Keras Flatten is channels-last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))
