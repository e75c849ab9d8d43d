"""The convolutions at the image end of the networks, where the image has few channels.

D's first convolution reads the 1-channel image and G's last transposed convolution writes
it. oneDNN computes one direction of such a layer well and the other badly: a convolution
*to* 64 channels from one takes ~1 ms at the tutorial's batch of 256, but its adjoint, the
transposed convolution from 64 channels *to* one (G's forward, and D's input gradient, which
G's update needs), took 10-16 ms in fp32 and bf16 alike: a kernel blocked over output
channels, with one output channel to block.

Here that direction is one GEMM and a col2im: ``col = x @ W`` gives every input pixel's
``k x k`` patch of contributions (N·H·W x k·k·C_out, small), and the patches are summed into
the output's ``stride x stride`` phases as ``k x k`` strided adds, accumulated in fp32. The
other direction and the weight gradients stay oneDNN's (``aten.convolution_backward``, the
very kernels autograd calls), so values and gradients are those of ``F.conv2d`` /
``F.conv_transpose2d`` up to the order of the sums.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

FEW_CHANNELS = 4  # image channels up to which the GEMM-and-col2im path is taken (square kernels)

Pair = tuple[int, int]


def col2im_conv_transpose(x: torch.Tensor, weight: torch.Tensor, stride: int, padding: Pair,
                          output_padding: Pair) -> torch.Tensor:
    """``F.conv_transpose2d(x, weight, None, stride, padding, output_padding)`` as GEMM + col2im.

    Output row ``r`` takes input row ``i`` through kernel row ``kh`` where
    ``r + padding = stride * i + kh``; writing ``kh = stride * a + ph``, that is row ``i + a``
    of the output's phase ``ph`` (rows ``ph, ph + stride, ...``), so each kernel tap adds one
    strided window of ``col`` into one phase of a zero buffer. Channels-last throughout.
    """
    n, c, h, w = x.shape
    _, o, k, _ = weight.shape
    (pad_h, pad_w), (extra_h, extra_w) = padding, output_padding
    out_h = (h - 1) * stride - 2 * pad_h + k + extra_h
    out_w = (w - 1) * stride - 2 * pad_w + k + extra_w
    reach = -(-k // stride)  # rows of a phase a kernel's taps reach beyond the input's
    taps = weight.permute(0, 2, 3, 1).reshape(c, k * k * o)
    col = x.permute(0, 2, 3, 1).reshape(n * h * w, c) @ taps
    acc = torch.promote_types(x.dtype, torch.float32)  # bf16 taps summed in fp32
    col = col.to(acc).view(n, h, w, k, k, o)
    full = x.new_zeros(n, h + reach, stride, w + reach, stride, o, dtype=acc)
    for kh in range(k):
        a, ph = divmod(kh, stride)
        for kw in range(k):
            b, pw = divmod(kw, stride)
            full[:, a:a + h, ph, b:b + w, pw].add_(col[:, :, :, kh, kw])
    full = full.view(n, (h + reach) * stride, (w + reach) * stride, o)
    if pad_h + out_h > full.shape[1] or pad_w + out_w > full.shape[2]:
        raise ValueError(f"output_padding {output_padding} reaches past the kernel's output")
    y = full[:, pad_h:pad_h + out_h, pad_w:pad_w + out_w].permute(0, 3, 1, 2)
    return y.to(x.dtype).contiguous(memory_format=torch.channels_last)


def _conv_grads(grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, bias: bool,
                stride: int, padding: Pair, transposed: bool, output_padding: Pair,
                mask: tuple[bool, bool, bool]) -> tuple:
    """oneDNN's backward of the convolution (or transposed one) ``x -> grad``'s output."""
    return torch.ops.aten.convolution_backward(
        grad, x, weight, [weight.shape[1] if transposed else weight.shape[0]] if bias else None,
        [stride] * 2, list(padding), [1, 1], transposed, list(output_padding), 1, list(mask))


def _compute_dtype(*tensors: torch.Tensor) -> list[torch.Tensor]:
    """The tensors in the dtype autocast would run the convolution in (CPU only here)."""
    if torch.is_autocast_enabled("cpu"):
        dtype = torch.get_autocast_dtype("cpu")
        return [t.to(dtype) if t.is_floating_point() else t for t in tensors]
    return list(tensors)


class _ImageConv(torch.autograd.Function):
    """``F.conv2d`` from an image with few channels; its input gradient by col2im."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride: int, padding: Pair):
        ctx.save_for_backward(x, weight)
        ctx.conf = stride, padding, bias is not None
        return F.conv2d(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        stride, padding, has_bias = ctx.conf
        grad = grad.contiguous(memory_format=torch.channels_last)
        gx = None
        if ctx.needs_input_grad[0]:  # extra: the rows and columns of x no output window reaches
            extra = tuple(size - ((out - 1) * stride - 2 * pad + weight.shape[-1])
                          for size, out, pad in zip(x.shape[-2:], grad.shape[-2:], padding))
            gx = col2im_conv_transpose(grad, weight, stride, padding, extra)
        needs = ctx.needs_input_grad
        _, gw, gb = _conv_grads(grad, x, weight, has_bias, stride, padding, False, (0, 0),
                                (False, needs[1], has_bias and needs[2]))
        return gx, gw, gb, None, None


class _ImageConvTranspose(torch.autograd.Function):
    """``F.conv_transpose2d`` to an image with few channels, forward by col2im."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride: int, padding: Pair, output_padding: Pair):
        ctx.save_for_backward(x, weight)
        ctx.conf = stride, padding, output_padding, bias is not None
        y = col2im_conv_transpose(x, weight, stride, padding, output_padding)
        return y if bias is None else y.add_(bias.view(1, -1, 1, 1))

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        stride, padding, output_padding, has_bias = ctx.conf
        needs = ctx.needs_input_grad
        gx, gw, gb = _conv_grads(grad.contiguous(memory_format=torch.channels_last), x, weight,
                                 has_bias, stride, padding, True, output_padding,
                                 (needs[0], needs[1], has_bias and needs[2]))
        return gx, gw, gb, None, None, None


def image_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                 stride: int, padding: Pair) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, stride, padding)``; on CPU, from an image of up to
    ``FEW_CHANNELS`` channels, with the input gradient by col2im. ``padding``: (rows, cols)."""
    if (x.device.type != "cpu" or x.shape[1] > FEW_CHANNELS or not torch.is_grad_enabled()
            or weight.shape[-1] != weight.shape[-2]):
        return F.conv2d(x, weight, bias, stride, padding)
    x, weight = _compute_dtype(x, weight)
    if bias is not None:
        (bias,) = _compute_dtype(bias)
    return _ImageConv.apply(x, weight, bias, stride, padding)


def image_conv_transpose2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                           stride: int, padding: Pair, output_padding: Pair) -> torch.Tensor:
    """``F.conv_transpose2d(x, weight, bias, stride, padding, output_padding)``; on CPU, to
    an image of up to ``FEW_CHANNELS`` channels, by GEMM and col2im. Pairs: (rows, cols)."""
    if (x.device.type != "cpu" or weight.shape[1] > FEW_CHANNELS
            or weight.shape[-1] != weight.shape[-2]):
        return F.conv_transpose2d(x, weight, bias, stride, padding, output_padding)
    x, weight = _compute_dtype(x, weight)
    if bias is not None:
        (bias,) = _compute_dtype(bias)
    return _ImageConvTranspose.apply(x.contiguous(memory_format=torch.channels_last), weight,
                                     bias, stride, padding, output_padding)
