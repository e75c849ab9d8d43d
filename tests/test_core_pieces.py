"""Shared pieces: adversarial losses, sample grids, checkpoint and generator files."""
from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import save_file

from ganrun.checkpoint import (atomic_write, export_generator, latest_checkpoint, load_checkpoint,
                               read_generator, rng_state, save_checkpoint, set_rng_state)
from ganrun.errors import UserError
from ganrun.images import make_grid
from ganrun.losses import get_loss, gradient_penalty


def test_losses_on_known_logits():
    zero = torch.zeros(4)
    assert get_loss("bce").d_real(zero).item() == pytest.approx(math.log(2))
    assert get_loss("bce").g(torch.full((4,), 100.0)).item() == pytest.approx(0, abs=1e-6)
    ls = get_loss("least_squares")  # exact below: small dyadic values, exact in any float32
    assert ls.d_real(zero).item() == 1 and ls.d_fake(zero).item() == 0
    hinge = get_loss("hinge")
    assert hinge.d_real(torch.tensor([2.0, 0.0])).item() == 0.5
    assert hinge.d_fake(torch.tensor([-2.0, 0.0])).item() == 0.5
    assert get_loss("wgan").d_real(torch.tensor([1.0, 3.0])).item() == -2
    with pytest.raises(UserError, match="model.loss: unknown loss 'l3'"):
        get_loss("l3")


def test_gradient_penalty_of_a_linear_critic():
    w = torch.tensor([3.0, 4.0])  # ||grad|| = 5 everywhere: penalty (5 - 1)^2 = 16
    gp = gradient_penalty(lambda x: x @ w, torch.randn(8, 2), torch.randn(8, 2))
    assert gp.item() == pytest.approx(16.0)


def test_grid_layout_and_pixel_scale():
    imgs = torch.full((16, 1, 28, 28), -1.0)
    imgs[5] = 1.0
    grid = make_grid(imgs, nrow=4, pad=2)
    assert grid.shape == (4 * 30 + 2, 4 * 30 + 2)
    assert grid[2 + 30, 2 + 30] == 255 and grid[2, 2] == 0  # image 5 is row 1, column 1
    assert make_grid(imgs[:10], nrow=4, scale=2).shape == (3 * 58 + 2, 4 * 58 + 2)


def test_atomic_write_never_leaves_half_a_file(tmp_path):
    target = tmp_path / "ckpt-epoch0001.pt"
    save_checkpoint(target, {"epoch": 1})

    def crash(tmp):
        open(tmp, "wb").write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, crash)
    assert load_checkpoint(target)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-epoch0001.pt"]
    (tmp_path / ".ckpt-epoch0009.pt.x.tmp").write_bytes(b"killed mid-write")
    assert latest_checkpoint(tmp_path).name == "ckpt-epoch0001.pt"


def test_rng_state_round_trip():
    import random

    import numpy as np

    state = rng_state()
    a = (torch.rand(3), np.random.rand(), random.random())
    set_rng_state(state)
    b = (torch.rand(3), np.random.rand(), random.random())
    assert torch.equal(a[0], b[0]) and a[1:] == b[1:]  # the same RNG stream replayed, here


def test_generator_file_round_trip_and_refusals(tmp_path):
    net = torch.nn.Linear(3, 2)
    path = export_generator(tmp_path / "G.safetensors", net, "method: x\n", "G")
    tensors, meta = read_generator(path)
    # exact: the tensor is copied through the file, no arithmetic
    assert torch.equal(tensors["weight"], net.weight) and meta["recipe"] == "method: x\n"
    save_file({"w": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(UserError, match="not a ganrun generator"):
        read_generator(tmp_path / "other.safetensors")
    (tmp_path / "junk.bin").write_bytes(b"\x00" * 64)
    with pytest.raises(UserError, match="not a ganrun generator"):
        read_generator(tmp_path / "junk.bin")


def test_cosine_decay_runs_from_one_to_zero_over_its_steps():
    from ganrun.schedules import CosineDecay

    decay = CosineDecay(10)
    assert decay(0) == 1.0 and abs(decay(5) - 0.5) < 1e-12 and decay(10) == 0.0 == decay(12)


def test_adam_is_fused_on_the_cpu_and_takes_the_default_adam_steps():
    from ganrun.optim import adam

    torch.manual_seed(0)
    a = torch.nn.Linear(8, 3)
    b = torch.nn.Linear(8, 3)
    b.load_state_dict(a.state_dict())
    start = a.weight.detach().clone()
    fused = adam(a.parameters(), 1e-2, (0.5, 0.999), 1e-7)
    plain = torch.optim.Adam(b.parameters(), 1e-2, betas=(0.5, 0.999), eps=1e-7)
    assert fused.defaults["fused"] is True and not plain.defaults["fused"]
    for _ in range(5):
        x = torch.randn(16, 8)
        for net, opt in ((a, fused), (b, plain)):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6)
    assert (a.weight - start).abs().max() > 1e-3  # the steps moved the weights
