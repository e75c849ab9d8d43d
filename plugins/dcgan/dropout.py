"""The discriminator's LeakyReLU and Keras Dropout, fused, and the dropout mask's draw.

Keras' ``Dropout(rate)`` (``tf.nn.dropout``) keeps an element where a uniform draw ``u`` is
at least ``rate`` and scales the kept by ``1 / (1 - rate)``; ``u`` is an fp32 on the 24-bit
grid, ``k * 2**-24`` for a uniform integer ``k < 2**24`` (``torch.rand``'s grid too). So an
element is kept exactly when ``k >= T``, ``T = ceil(fp32(rate) * 2**24)``: a Bernoulli draw of
probability ``1 - T / 2**24`` per element.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_BITS = {torch.float16: np.int16, torch.bfloat16: np.int16, torch.float32: np.int32,
         torch.float64: np.int64}  # an integer type of each float dtype's width


def keep_threshold(rate: float) -> int:
    """``T``: an element is kept when its 24-bit uniform integer ``k`` is at least this."""
    return math.ceil(float(np.float32(rate)) * 2**24)


def scaled_keep_mask(x: torch.Tensor, rate: float) -> torch.Tensor:
    """Dropout's mask for ``x``: ``1 / (1 - rate)`` where kept, 0 where dropped; shaped, laid
    out and typed like ``x``.

    On CPU the draw takes only the random bits the decision needs: ``k``'s top 8 bits decide
    ``k >= T`` unless they equal ``T``'s (one element in 256), and only those elements draw
    ``k``'s lower 16 bits. That is the same Bernoulli draw per element, from a byte instead of
    four, and no float is made: the mask is written as the bit pattern of the scale in
    ``x``'s dtype times the keep flag. For D's first layer at the tutorial's batch
    (256x64x14x14) the scaled mask took ~8 ms from fp32 uniforms (themselves numpy's,
    split over two threads: PyTorch's serial Mersenne Twister was slower still), ~2.5-3 ms
    so. The bits come from numpy's SFC64 (Doty-Humphrey's Small Fast Chaotic generator,
    which passes TestU01's BigCrush), seeded from torch's global generator:
    ``torch.manual_seed`` and a resumed run's restored RNG state reproduce it.
    """
    scale = 1.0 / (1.0 - rate)
    nhwc = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
    if x.device.type != "cpu" or x.dtype not in _BITS or not (x.is_contiguous() or nhwc):
        return torch.rand_like(x, dtype=torch.float32).ge_(rate).to(x.dtype).mul_(scale)
    n = x.numel()
    high, low = divmod(keep_threshold(rate), 1 << 16)
    gen = np.random.Generator(np.random.SFC64(int(torch.randint(0, 2**62, ()))))
    top = gen.bit_generator.random_raw(-(-n // 8)).view(np.uint8)[:n]  # k's top 8 bits
    keep = top > high
    ties = np.flatnonzero(top == high)
    if ties.size:  # k's lower 16 bits decide these
        keep[ties] = gen.integers(0, 1 << 16, ties.size, dtype=np.int32) >= low
    bits = _BITS[x.dtype]
    pattern = torch.tensor(scale, dtype=x.dtype).view(getattr(torch, np.dtype(bits).name))
    mask = torch.from_numpy(np.multiply(keep, bits(pattern.item()), dtype=bits)).view(x.dtype)
    if x.is_contiguous():
        return mask.view(x.shape)
    b, c, h, w = x.shape
    return mask.view(b, h, w, c).permute(0, 3, 1, 2)


class LeakyReLUDropout(torch.autograd.Function):
    """``dropout(leaky_relu(x, slope), rate)`` forward and backward through one factor.

    ``f = keep / (1 - rate) * (1 if x > 0 else slope)`` (``f`` is ``leaky_relu_backward`` of
    the scaled mask). The output is ``x * f`` and the gradient ``grad * f``: one tensor saved,
    and every pass a vectorised kernel.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, slope: float, rate: float) -> torch.Tensor:
        factor = torch.ops.aten.leaky_relu_backward(scaled_keep_mask(x, rate), x, slope, False)
        ctx.save_for_backward(factor)
        return x * factor

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
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
