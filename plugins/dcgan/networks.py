"""The TensorFlow DCGAN tutorial's generator and discriminator, ported exactly.

Keras computes differently from PyTorch's defaults in three ways, reproduced here so that a
port given the Keras weights gives the Keras outputs (bench/keras_equivalence.py):

* TF's 'same' padding with stride 2 is asymmetric: a 5x5 kernel pads 1 before and 2 after.
  Convolutions pad explicitly (``F.pad(x, (1, 2, 1, 2))``, then ``padding=0``); transposed
  convolutions use ``padding=1`` and crop the one extra row and column at the end.
* Keras reshapes and flattens channels-last: the dense layer's 12,544 features are read as
  7x7x256 (H, W, C) and the discriminator flattens H, W, C, so a weight copied from Keras
  means the same thing here.
* Keras defaults: LeakyReLU slope 0.3, BatchNorm momentum 0.99 (PyTorch 0.01) and epsilon
  1e-3, Glorot-uniform weights (``ganrun.init.init_glorot``).

With ``tf_padding=False`` the symmetric PyTorch padding is used (same shapes, image shifted
by a pixel); ``widths`` narrows the networks for quick runs.

Speed (the same mathematics, computed the way the CPU kernels want it; docs/dcgan.md):

* activations and weights are channels-last (NHWC), Keras' own layout: oneDNN's convolutions
  and their backward passes run natively on it, and the Keras reshape/flatten become views;
* the asymmetric padding is the convolution's own symmetric padding (1) plus one zero row
  and column after, not a padded copy of the whole input;
* LeakyReLU and Dropout are one autograd function: one uniform draw per element (kept where
  ``u >= rate``, as ``tf.nn.dropout`` does), one saved factor, one multiply backward.
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
    """Conv2d with TF 'same' padding (stride 2, kernel 5, even input: 1 before, 2 after).

    The symmetric part of the padding is the convolution's own (no copy); only the extra
    row and column after, where TF's padding is uneven, are padded explicitly.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, tf_padding: bool = True, bias: bool = True):
        super().__init__()
        self.tf_padding = tf_padding
        self.conv = nn.Conv2d(c_in, c_out, KERNEL, stride, padding=2, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.tf_padding:
            return self.conv(x)
        stride = self.conv.stride
        top, bottom = tf_same_padding(x.shape[-2], stride[0])
        left, right = tf_same_padding(x.shape[-1], stride[1])
        if bottom > top or right > left:
            x = F.pad(x, (0, right - left, 0, bottom - top))
        return F.conv2d(x, self.conv.weight, self.conv.bias, stride, (top, left))


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
        y = self.deconv(x)
        if y.shape[-2:] == (h, w):
            return y
        return y[..., :h, :w].contiguous(memory_format=torch.channels_last)


class LeakyReLUDropout(torch.autograd.Function):
    """``dropout(leaky_relu(x, slope), rate)`` forward and backward through one factor.

    ``f = (u >= rate) / (1 - rate) * (1 if x > 0 else slope)``, one ``u ~ U[0, 1)`` (fp32) per
    element: Keras' Dropout keeps where the uniform draw is at least the rate. The output is
    ``x * f`` and the gradient ``grad * f``: one tensor saved, and every pass a vectorised
    kernel (``f`` is ``leaky_relu_backward`` of the scaled mask).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, slope: float, rate: float) -> torch.Tensor:
        mask = torch.rand_like(x, dtype=torch.float32).ge_(rate).mul_(1.0 / (1.0 - rate))
        factor = torch.ops.aten.leaky_relu_backward(mask.to(x.dtype), x, slope, False)
        ctx.save_for_backward(factor)
        return x * factor

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (factor,) = ctx.saved_tensors
        return grad * factor, None, None


class ActivationDropout(nn.Module):
    """LeakyReLU(slope) then Dropout(rate): fused while training, plain in inference."""

    def __init__(self, slope: float, rate: float):
        super().__init__()
        self.slope, self.rate = slope, rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.rate > 0:
            return LeakyReLUDropout.apply(x, self.slope, self.rate)
        return F.leaky_relu(x, self.slope)

    def extra_repr(self) -> str:
        return f"slope={self.slope}, rate={self.rate}"


class DenseBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d of dense features (N x C), computed as N x C x 1 x 1.

    The same statistics and parameters; PyTorch's 2-D kernel reduces each of the tutorial's
    12,544 features over the batch in a strided loop, about 5x slower than the 4-D one.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f"expected N x C features, got {x.dim() - 2}-D input")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x[:, :, None, None]).flatten(1)


def keras_batchnorm(n: int, dims: int, momentum: float, eps: float) -> nn.Module:
    """BatchNorm; ``momentum`` in PyTorch's convention (Keras' 0.99 is PyTorch's 0.01)."""
    cls = DenseBatchNorm if dims == 1 else nn.BatchNorm2d
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
        self.to(memory_format=torch.channels_last)

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
        self.act_drop = ActivationDropout(slope, dropout)
        self.fc = nn.Linear(7 * 7 * w1, 1)
        self.to(memory_format=torch.channels_last)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The flattened last feature map (N x 7*7*w1), in Keras' channels-last order."""
        x = x.contiguous(memory_format=torch.channels_last)
        x = self.act_drop(self.conv1(x))
        x = self.act_drop(self.conv2(x))
        return x.permute(0, 2, 3, 1).flatten(1)  # Keras Flatten is channels-last: a view here

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))
