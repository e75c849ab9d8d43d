"""The optimised dcgan networks compute what the Keras-proved previous ones computed.

``tests/dcgan_reference_networks.py`` is the implementation bench/keras_equivalence.py proved
equal to the TF tutorial (max_abs_diff 6.56e-07); with the same weights, the optimised
networks (channels-last, padding inside the convolution, fused LeakyReLU + Dropout) must give
the same outputs and gradients, so the Keras equivalence carries over without TensorFlow.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ganrun_plugins.dcgan.dropout import LeakyReLUDropout
from ganrun_plugins.dcgan.networks import Discriminator, Generator
from tests import dcgan_reference_networks as reference

TOL = 1e-5  # keras_equivalence.py's bound


def _randomise(net: torch.nn.Module, seed: int) -> None:
    """Random weights, BatchNorm affine parameters and running statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in [*net.named_parameters(), *net.named_buffers()]:
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) * 1.8 + 0.2)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * (0.05 if t.dim() > 1 else 0.3))


@pytest.mark.parametrize("tf_padding", [True, False])
def test_same_weights_same_outputs_and_gradients(tf_padding):
    ref_g, ref_d = reference.Generator(tf_padding=tf_padding), reference.Discriminator(
        dropout=0.0, tf_padding=tf_padding)
    _randomise(ref_g, 1)
    _randomise(ref_d, 2)
    g, d = Generator(tf_padding=tf_padding), Discriminator(dropout=0.0, tf_padding=tf_padding)
    g.load_state_dict(ref_g.state_dict())
    d.load_state_dict(ref_d.state_dict())
    z = torch.randn(8, 100, generator=torch.Generator().manual_seed(3))
    for train in (False, True):  # inference (running statistics) and training (batch statistics)
        for net in (ref_g, ref_d, g, d):
            net.train(train)
        ref_x, x = ref_g(z), g(z)
        assert x.shape == (8, 1, 28, 28)
        assert (x - ref_x).abs().max() <= TOL
        ref_y, y = ref_d(ref_x), d(x)
        assert (y - ref_y).abs().max() <= TOL
        if train:  # gradients through D into G, the path the generator's update takes
            ref_grads = torch.autograd.grad(ref_y.sum(), [*ref_g.parameters(), *ref_d.parameters()])
            grads = torch.autograd.grad(y.sum(), [*g.parameters(), *d.parameters()])
            for a, b in zip(ref_grads, grads):
                assert (a - b).abs().max() <= TOL * max(1.0, a.abs().max().item())


def test_networks_run_channels_last():
    g, d = Generator(), Discriminator()
    assert g.up1.deconv.weight.is_contiguous(memory_format=torch.channels_last)
    assert d.conv2.conv.weight.is_contiguous(memory_format=torch.channels_last)
    h = d.act_drop(d.conv1.conv(torch.randn(2, 1, 28, 28).contiguous(memory_format=torch.channels_last)))
    assert h.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_leaky_relu_dropout_is_dropout_of_leaky_relu(dtype):
    """Keeps 70% of elements at rate 0.3 (drawn in fp32 whatever the dtype), scales the kept
    by 1/0.7 after LeakyReLU, and passes gradients through the same factor."""
    torch.manual_seed(0)
    x = torch.randn(200_000, dtype=dtype, requires_grad=True)
    y = LeakyReLUDropout.apply(x, 0.3, 0.3)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005
    expected = F.leaky_relu(x.detach().float(), 0.3) * kept / 0.7
    assert torch.allclose(y.float(), expected, rtol=1e-2 if dtype == torch.bfloat16 else 1e-6)
    grad_out = torch.randn_like(x)
    (y * grad_out).sum().backward()
    slope = torch.where(x.detach() > 0, 1.0, 0.3)
    expected_grad = grad_out.float() * kept / 0.7 * slope
    assert torch.allclose(x.grad.float(), expected_grad,
                          rtol=1e-2 if dtype == torch.bfloat16 else 1e-6)


def test_dropout_is_off_in_inference_and_fresh_each_training_call():
    d = Discriminator()
    x = torch.randn(4, 1, 28, 28)
    d.eval()
    assert torch.equal(d(x), d(x))
    d.train()
    assert not torch.equal(d(x), d(x))


@pytest.mark.parametrize("size", [28, 14, 13])
def test_layers_computed_rotated_are_the_layers(size):
    """``rotated`` is ``rotate(layer(rotate(x)))``, values and gradients, for the convolution
    (TF padding 1/2 on even sizes, 2/2 on odd) and the transposed convolutions (stride 1, 2)."""
    from ganrun_plugins.dcgan.networks import SamePadConv, SamePadConvTranspose, rotate

    torch.manual_seed(0)
    layers = [SamePadConv(3, 4, 2), SamePadConvTranspose(3, 4, 2), SamePadConvTranspose(3, 4, 1)]
    for layer in layers:
        x = torch.randn(2, 3, size, size).requires_grad_()
        y, r = layer(x), rotate(layer.rotated(rotate(x)))
        assert y.shape == r.shape and (y - r).abs().max() <= TOL
        g = torch.randn_like(y)
        ga = torch.autograd.grad(y, [x, *layer.parameters()], g)
        gb = torch.autograd.grad(r, [x, *layer.parameters()], g)
        for a, b in zip(ga, gb):
            assert (a - b).abs().max() <= TOL * max(1.0, a.abs().max().item())
    assert SamePadConv(1, 1, 2)(torch.zeros(1, 1, 28, 28)).shape[-1] == 14


def test_the_dropout_mask_is_reproducible_scaled_and_laid_out_like_its_input():
    from ganrun_plugins.dcgan.dropout import scaled_keep_mask

    for dtype in (torch.float32, torch.bfloat16, torch.float64):
        x = torch.randn(8, 16, 10, 10, dtype=dtype).contiguous(memory_format=torch.channels_last)
        torch.manual_seed(5)
        a = scaled_keep_mask(x, 0.3)
        torch.manual_seed(5)
        assert torch.equal(a, scaled_keep_mask(x, 0.3))
        assert a.dtype == dtype and a.is_contiguous(memory_format=torch.channels_last)
        scale = torch.tensor(1 / 0.7, dtype=dtype)
        assert set(a.unique().tolist()) == {0.0, scale.item()}
        assert abs((a != 0).double().mean().item() - 0.7) < 0.03
        assert not torch.equal(scaled_keep_mask(x, 0.3), a)  # the global generator moved on
        assert scaled_keep_mask(x.contiguous(), 0.3).is_contiguous()
        strided = scaled_keep_mask(x[:, :, ::2], 0.3)  # no flat layout: torch's own draw
        assert strided.shape == x[:, :, ::2].shape and set(strided.unique().tolist()) <= {0.0, scale.item()}


def test_the_dropout_mask_keeps_with_the_24_bit_uniforms_probability():
    """Kept iff a 24-bit uniform integer k reaches T = ceil(rate * 2**24). At a rate whose T
    is 77.5 * 2**16, k's top byte equals T's on 1/256 of the elements and half of those are
    kept by the lower 16 bits: were those ties all kept or all dropped, the share kept would
    be 1/512 = 0.00195 off, ~8 standard deviations of this draw (and the draw is integer
    arithmetic on a fixed seed, the same on every machine)."""
    from ganrun_plugins.dcgan.dropout import keep_threshold, scaled_keep_mask

    rate = (77 * 2**16 + 2**15) / 2**24
    assert keep_threshold(rate) == 77 * 2**16 + 2**15 and keep_threshold(0.3) == 5033165
    torch.manual_seed(0)
    kept = (scaled_keep_mask(torch.zeros(4_000_000), rate) != 0).double().mean().item()
    assert abs(kept - (1 - rate)) < 0.0008
    assert (scaled_keep_mask(torch.zeros(10_000), 0.0) != 0).all()


@pytest.mark.parametrize("stride,padding,output_padding,size,channels", [
    (2, (2, 2), (1, 1), (14, 14), 1),  # G's last layer, D's first (rotated frame)
    (2, (1, 1), (0, 0), (7, 7), 3),
    (1, (2, 2), (0, 0), (7, 7), 2),
    (2, (2, 1), (1, 0), (7, 8), 1),
    (3, (1, 2), (2, 1), (5, 6), 4),
])
def test_image_convolutions_are_torchs(stride, padding, output_padding, size, channels):
    """The col2im transposed convolution and the convolution whose input gradient is it give
    F.conv_transpose2d's and F.conv2d's values and gradients (float64, with biases)."""
    from ganrun_plugins.dcgan.image_convs import image_conv2d, image_conv_transpose2d

    torch.manual_seed(0)
    f64 = dict(dtype=torch.float64)
    x = torch.randn(3, 6, *size, **f64).contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    w = torch.randn(6, channels, 5, 5, **f64, requires_grad=True)
    b = torch.randn(channels, **f64, requires_grad=True)
    args = (stride, padding, output_padding)
    ref, mine = F.conv_transpose2d(x, w, b, *args), image_conv_transpose2d(x, w, b, *args)
    img = torch.randn(3, channels, ref.shape[-2] + 1, ref.shape[-1], **f64, requires_grad=True)
    cb = torch.randn(6, **f64, requires_grad=True)
    conv_ref, conv = F.conv2d(img, w, cb, stride, padding), image_conv2d(img, w, cb, stride, padding)
    for a, m, inputs in ((ref, mine, (x, w, b)), (conv_ref, conv, (img, w, cb))):
        assert a.shape == m.shape and (a - m).abs().max() < 1e-12
        g = torch.randn_like(a)
        for ga, gm in zip(torch.autograd.grad(a, inputs, g), torch.autograd.grad(m, inputs, g)):
            assert (ga - gm).abs().max() < 1e-12
