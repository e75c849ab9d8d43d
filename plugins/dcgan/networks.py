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
  ``u >= rate``, as ``tf.nn.dropout`` does), one saved factor, one multiply backward; it
  writes its output with the next convolution's extra zero row and column already there.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
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

    def padding(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(top, left) for the convolution, (bottom, right) zeros to add after its input."""
        if not self.tf_padding:
            return 2, 2, 0, 0
        top, bottom = tf_same_padding(h, self.conv.stride[0])
        left, right = tf_same_padding(w, self.conv.stride[1])
        return top, left, bottom - top, right - left

    def forward(self, x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        """``x`` of ``size`` (H, W); or, with ``size`` given, ``x`` already followed by the
        zeros :meth:`padding` asks for (the previous layer wrote them)."""
        top, left, bottom, right = self.padding(*(size or x.shape[-2:]))
        if size is None and (bottom or right):
            x = F.pad(x, (0, right, 0, bottom))
        return F.conv2d(x, self.conv.weight, self.conv.bias, self.conv.stride, (top, left))


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
        return CropChannelsLast.apply(y, h, w)


class CropChannelsLast(torch.autograd.Function):
    """``y[..., :h, :w]`` as a channels-last copy, with a channels-last backward.

    Autograd's own slice backward fills a zero NCHW tensor of the full size once per sliced
    dimension, copies the gradient in, and the transposed convolution's backward then copies
    that to channels-last again (~3% of the tutorial's step at batch 256). Here the gradient
    is written once into a channels-last buffer whose extra rows and columns alone are zeroed.
    """

    @staticmethod
    def forward(ctx, y: torch.Tensor, h: int, w: int) -> torch.Tensor:
        ctx.full = y.shape
        return y[..., :h, :w].contiguous(memory_format=torch.channels_last)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        h, w = grad.shape[-2:]
        out = torch.empty(ctx.full, dtype=grad.dtype, device=grad.device,
                          memory_format=torch.channels_last)
        nhwc, g = out.permute(0, 2, 3, 1), grad.permute(0, 2, 3, 1)  # the order in memory
        nhwc[:, h:].zero_()
        nhwc[:, :h, w:].zero_()
        nhwc[:, :h, :w].copy_(g)
        return out, None, None


PARALLEL_DRAW = 1 << 20  # elements from which the dropout draw is split over threads
_draw_pool: ThreadPoolExecutor | None = None


def uniform_like(x: torch.Tensor) -> torch.Tensor:
    """fp32 ``U[0, 1)`` draws shaped and laid out like ``x``.

    PyTorch's CPU generator is one Mersenne Twister, drawn serially: at the tutorial's batch
    of 256 the two dropout masks took ~7% of a step on 2 cores while the other core idled.
    A large draw is split into one chunk per intra-op thread, each from its own generator
    seeded from the global one (so ``torch.manual_seed`` and a resumed run's restored RNG
    state reproduce it), and the chunks are filled side by side.
    """
    chunks = min(torch.get_num_threads(), 8)
    nhwc = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
    if x.device.type != "cpu" or chunks < 2 or x.numel() < PARALLEL_DRAW or \
            not (x.is_contiguous() or nhwc):
        return torch.rand_like(x, dtype=torch.float32)
    global _draw_pool
    if _draw_pool is None or _draw_pool._max_workers < chunks - 1:
        _draw_pool = ThreadPoolExecutor(chunks - 1, thread_name_prefix="ganrun-dropout")
    seeds = torch.randint(0, 2**62, (chunks,)).tolist()
    flat = torch.empty(x.numel(), dtype=torch.float32)
    parts = flat.chunk(chunks)
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    pending = [_draw_pool.submit(p.uniform_, generator=g) for p, g in zip(parts[1:], gens[1:])]
    parts[0].uniform_(generator=gens[0])
    for f in pending:
        f.result()
    if x.is_contiguous():
        return flat.view(x.shape)
    n, c, h, w = x.shape
    return flat.view(n, h, w, c).permute(0, 3, 1, 2)


class LeakyReLUDropout(torch.autograd.Function):
    """``dropout(leaky_relu(x, slope), rate)`` forward and backward through one factor.

    ``f = (u >= rate) / (1 - rate) * (1 if x > 0 else slope)``, one ``u ~ U[0, 1)`` (fp32) per
    element: Keras' Dropout keeps where the uniform draw is at least the rate. The output is
    ``x * f`` and the gradient ``grad * f``: one tensor saved, and every pass a vectorised
    kernel (``f`` is ``leaky_relu_backward`` of the scaled mask). With ``pad = (bottom,
    right)`` the output is written into a buffer that many zero rows and columns larger, the
    input the next convolution's TF padding needs, instead of padding a copy of it.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, slope: float, rate: float,
                pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
        mask = uniform_like(x).ge_(rate).mul_(1.0 / (1.0 - rate))
        factor = torch.ops.aten.leaky_relu_backward(mask.to(x.dtype), x, slope, False)
        ctx.save_for_backward(factor)
        ctx.pad = pad
        if not any(pad):
            return x * factor
        h, w = x.shape[-2:]
        out = torch.empty((*x.shape[:-2], h + pad[0], w + pad[1]), dtype=x.dtype,
                          device=x.device, memory_format=torch.channels_last)
        out[..., h:, :].zero_()
        out[..., :h, w:].zero_()
        torch.mul(x, factor, out=out[..., :h, :w])
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (factor,) = ctx.saved_tensors
        if any(ctx.pad):
            grad = grad[..., :factor.shape[-2], :factor.shape[-1]]
        return grad * factor, None, None, None


class ActivationDropout(nn.Module):
    """LeakyReLU(slope) then Dropout(rate): fused while training, plain in inference; ``pad``
    (bottom, right) zero rows and columns after, for the next convolution."""

    def __init__(self, slope: float, rate: float):
        super().__init__()
        self.slope, self.rate = slope, rate

    def forward(self, x: torch.Tensor, pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
        if self.training and self.rate > 0:
            return LeakyReLUDropout.apply(x, self.slope, self.rate, pad)
        x = F.leaky_relu(x, self.slope)
        return F.pad(x, (0, pad[1], 0, pad[0])) if any(pad) else x

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
        x = self.conv1(x.contiguous(memory_format=torch.channels_last))
        size = x.shape[-2:]
        _, _, bottom, right = self.conv2.padding(*size)
        x = self.act_drop(x, (bottom, right))  # written with conv2's extra zeros after
        x = self.act_drop(self.conv2(x, size))
        return x.permute(0, 2, 3, 1).flatten(1)  # Keras Flatten is channels-last: a view here

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))
