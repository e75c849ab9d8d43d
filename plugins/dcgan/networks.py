"""The TensorFlow DCGAN tutorial's generator and discriminator, ported exactly.

Keras computes differently from PyTorch's defaults in three ways, reproduced here so that a
port given the Keras weights gives the Keras outputs (bench/keras_equivalence.py):

* TF's 'same' padding with stride 2 is asymmetric: a 5x5 kernel pads 1 before and 2 after
  (:meth:`SamePadConv.forward` pads so, explicitly); a transposed convolution keeps its full
  output minus 1 row and column before and 2 after (:meth:`SamePadConvTranspose.forward`).
* Keras reshapes and flattens channels-last: the dense layer's 12,544 features are read as
  7x7x256 (H, W, C) and the discriminator flattens H, W, C, so a weight copied from Keras
  means the same thing here.
* Keras defaults: LeakyReLU slope 0.3, BatchNorm momentum 0.99 (PyTorch 0.01) and epsilon
  1e-3, Glorot-uniform weights (``ganrun.init.init_glorot``).

With ``tf_padding=False`` the symmetric PyTorch padding is used (same shapes, image shifted
by a pixel); ``widths`` narrows the networks for quick runs.

Speed (the same mathematics, computed the way the CPU kernels want it; docs/dcgan.md):

* both networks compute in the frame rotated by 180 degrees: rotating an image and a kernel
  turns TF's uneven padding (1 before, 2 after) into 2 before and 1 after, which PyTorch's
  symmetric padding 2 gives exactly (the extra zero row and column after is never read), and
  a transposed convolution's crop into 2 before and 1 after (``padding=2,
  output_padding=1``). So no layer pads a copy of its input or crops a copy of its output,
  and every convolution sees even sizes (14x14, not a 15x15 padded buffer, on which oneDNN's
  backward took 16-25% longer); the rotations are of the input, of the kernels (small) and of
  the last map;
* activations and weights are channels-last (NHWC), Keras' own layout: oneDNN's convolutions
  and their backward passes run natively on it, and the Keras reshape/flatten become views;
* LeakyReLU and Dropout are one autograd function (``dropout.py``): one saved factor, one
  multiply backward, and a mask drawn from the random bits the keep decision needs;
* the layers at the image end (D's first convolution, G's last transposed one) take the
  direction oneDNN computes slowly with one channel as GEMM and col2im (``image_convs.py``).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .dropout import ActivationDropout
from .image_convs import image_conv2d, image_conv_transpose2d

KERNEL = 5


def tf_same_padding(size: int, stride: int, kernel: int = KERNEL) -> tuple[int, int]:
    """TF 'same' padding (before, after) of one dimension: the odd pixel goes after."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def rotate(x: torch.Tensor) -> torch.Tensor:
    """``x`` rotated by 180 degrees in its last two (spatial) dimensions."""
    return x.flip(-2, -1)


class SamePadConv(nn.Module):
    """Conv2d with TF 'same' padding (stride 2, kernel 5, even input: 1 before, 2 after)."""

    def __init__(self, c_in: int, c_out: int, stride: int, tf_padding: bool = True, bias: bool = True):
        super().__init__()
        self.tf_padding = tf_padding
        self.conv = nn.Conv2d(c_in, c_out, KERNEL, stride, padding=2, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The definition: TF's padding on a padded copy (the networks use :meth:`rotated`)."""
        if not self.tf_padding:
            return self.conv(x)
        (top, bottom), (left, right) = (tf_same_padding(n, self.conv.stride[0])
                                        for n in x.shape[-2:])
        return F.conv2d(F.pad(x, (left, right, top, bottom)), self.conv.weight,
                        self.conv.bias, self.conv.stride)

    def rotated(self, x: torch.Tensor) -> torch.Tensor:
        """``rotate(self(rotate(x)))``: this convolution computed in the rotated frame.

        Rotated, TF's padding (before, after) is (after, before); for a 5x5 kernel at stride
        2 that is (2, 1) on an even size and (2, 2) on an odd one, and symmetric padding 2
        computes both exactly: its extra zero row and column after lies beyond the last
        output window.
        """
        pads = [tf_same_padding(n, self.conv.stride[0]) for n in x.shape[-2:]]
        if not all(after - before in (0, 1) for before, after in pads):
            raise ValueError(f"no symmetric padding is TF's on {tuple(x.shape[-2:])}")
        return image_conv2d(x, rotate(self.conv.weight), self.conv.bias, self.conv.stride[0],
                            tuple(after for _, after in pads))


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
        return y if y.shape[-2:] == (h, w) else y[..., :h, :w]

    def rotated(self, x: torch.Tensor) -> torch.Tensor:
        """``rotate(self(rotate(x)))``: this layer computed in the rotated frame (TF padding).

        TF keeps the full output of a stride-2 transposed convolution minus 1 row and column
        before and 2 after; rotated, that is 2 before and 1 after, which PyTorch computes
        directly (``padding=2, output_padding=1``) with the kernel rotated: no oversized
        output to crop and copy, nor a zero-filled gradient buffer to crop back into. At
        stride 1 TF's padding is symmetric and the layer only needs the rotated kernel.
        """
        output_padding = 0 if self.stride == 1 else 1
        return image_conv_transpose2d(x, rotate(self.deconv.weight), self.deconv.bias,
                                      self.stride, (2, 2), (output_padding,) * 2)


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
        self.noise_dim, self.w0, self.tf_padding = noise_dim, w0, tf_padding
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
        x = self.act(self.bn1(self.up1(x)))  # stride 1: TF's padding is symmetric here
        if self.tf_padding:  # computed in the rotated frame (SamePadConvTranspose.rotated)
            x = self.act(self.bn2(self.up2.rotated(rotate(x))))
            return rotate(torch.tanh(self.up3.rotated(x)))
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
        self.tf_padding = tf_padding
        self.conv1 = SamePadConv(channels, w0, 2, tf_padding)
        self.conv2 = SamePadConv(w0, w1, 2, tf_padding)
        self.act_drop = ActivationDropout(slope, dropout)
        self.fc = nn.Linear(7 * 7 * w1, 1)
        self.to(memory_format=torch.channels_last)

    def last_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map (N x w1 x 7 x 7, channels-last); with TF padding rotated by
        180 degrees, the frame it is computed in (SamePadConv.rotated)."""
        x = x.contiguous(memory_format=torch.channels_last)
        if self.tf_padding:
            return self.act_drop(self.conv2.rotated(self.act_drop(self.conv1.rotated(rotate(x)))))
        return self.act_drop(self.conv2(self.act_drop(self.conv1(x))))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The flattened last feature map (N x 7*7*w1), in Keras' channels-last order."""
        h = self.last_map(x)
        h = rotate(h) if self.tf_padding else h
        return h.permute(0, 2, 3, 1).flatten(1)  # Keras Flatten is channels-last: a view here

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.tf_padding:
            return self.fc(self.features(x))
        h = self.last_map(x)  # rotated: the dense weight is read rotated instead of the map
        _, c, rows, cols = h.shape
        weight = self.fc.weight.view(-1, rows, cols, c).flip(1, 2).reshape(-1, rows * cols * c)
        return F.linear(h.permute(0, 2, 3, 1).flatten(1), weight, self.fc.bias)
