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

from ganrun_plugins.dcgan.networks import Discriminator, Generator, LeakyReLUDropout
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


def test_the_dropout_draw_is_reproducible_uniform_and_laid_out_like_its_input(monkeypatch):
    from ganrun_plugins.dcgan import networks

    monkeypatch.setattr(networks, "FAST_DRAW", 1000)  # SFC64 and split even for a small draw
    monkeypatch.setattr(networks, "PARALLEL_DRAW", 1000)
    x = torch.randn(8, 16, 10, 10).contiguous(memory_format=torch.channels_last)
    for threads in (3, 1):
        monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
        torch.manual_seed(5)
        a = networks.uniform_like(x)
        torch.manual_seed(5)
        b = networks.uniform_like(x)
        assert torch.equal(a, b) and a.is_contiguous(memory_format=torch.channels_last)
        assert a.shape == x.shape and 0 <= a.min() and a.max() < 1
        assert abs(a.mean().item() - 0.5) < 0.02
        assert abs((a < 0.3).float().mean().item() - 0.3) < 0.02
        assert (a * 2**24).frac().abs().max() == 0  # torch.rand's 24-bit grid of floats
        assert networks.uniform_like(x.contiguous()).is_contiguous()
        assert not torch.equal(networks.uniform_like(x), a)  # the global generator moved on
        if threads > 1:  # each chunk from its own generator, not one sequence repeated
            flat = a.permute(0, 2, 3, 1).flatten()
            chunk = x.numel() // threads
            assert not torch.equal(flat[:chunk], flat[chunk:2 * chunk])
