"""The dcgan plugin: the tutorial's shapes and its two-tape training step."""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from ganrun.init import init_glorot
from ganrun_plugins.dcgan.networks import Discriminator, Generator, SamePadConv, tf_same_padding


def n_params(net):
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def test_tutorial_parameter_counts_and_shapes():
    g, d = Generator(), Discriminator()
    assert n_params(g) == 2_305_472 and n_params(d) == 212_865
    assert all(m.bias is None for m in g.modules() if isinstance(m, (torch.nn.Linear, torch.nn.ConvTranspose2d)))
    g.eval()
    x = g(torch.randn(3, 100))
    assert x.shape == (3, 1, 28, 28) and x.abs().max() <= 1
    assert d(x).shape == (3, 1)
    assert g.bn0.momentum == 0.01 and g.bn0.eps == 1e-3 and g.act.negative_slope == 0.3


def test_tf_same_padding_is_asymmetric():
    assert tf_same_padding(28, 2) == (1, 2)
    assert tf_same_padding(14, 2) == (1, 2)
    assert tf_same_padding(7, 1) == (2, 2)
    conv = SamePadConv(1, 1, 2)
    x = torch.randn(1, 1, 28, 28)
    expected = F.conv2d(F.pad(x, (1, 2, 1, 2)), conv.conv.weight, conv.conv.bias, stride=2)
    assert torch.allclose(conv(x), expected, atol=1e-6)  # 1 before and 2 after, not 2 and 2
    sym = SamePadConv(1, 1, 2, tf_padding=False)
    sym.load_state_dict(conv.state_dict())
    assert not torch.allclose(sym(x), conv(x))  # the pixel shift TF padding avoids


def test_glorot_init_bounds():
    g = Generator(widths=(16, 8, 4))
    init_glorot(g)
    w = g.up1.deconv.weight  # 16 -> 8, 5x5
    bound = (6 / (16 * 25 + 8 * 25)) ** 0.5
    assert w.abs().max() <= bound and w.abs().max() > 0.8 * bound


def test_train_step_is_the_tutorials_two_tape_step(registry):
    """Both gradients come from one forward pass, before either optimiser steps."""
    from ganrun.engine import build_trainer
    from ganrun.plugins import get_plugin_manager
    from ganrun.recipe import load_recipe
    from tests.conftest import RECIPES

    pm = get_plugin_manager()
    recipe = load_recipe(RECIPES / "dcgan_mnist.yaml",
                         ["model.g_widths=[8,4,2]", "model.d_widths=[4,8]", "train.batch_size=6"],
                         registry=registry)
    trainer = build_trainer(recipe, pm, registry, torch.device("cpu"))
    G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-7)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-7)
    real = torch.rand(4, 1, 28, 28) * 2 - 1  # smaller than the noise batch, as the last batch

    torch.manual_seed(1)
    losses = trainer.train_step({"image": real, "label": torch.zeros(4, dtype=torch.long)})

    torch.manual_seed(1)  # the tutorial, written plainly
    fake = G(torch.randn(6, 100))
    real_out, fake_out = D(real), D(fake)
    bce = F.binary_cross_entropy_with_logits
    gen_loss = bce(fake_out, torch.ones_like(fake_out))
    disc_loss = bce(real_out, torch.ones_like(real_out)) + bce(fake_out, torch.zeros_like(fake_out))
    gg = torch.autograd.grad(gen_loss, list(G.parameters()), retain_graph=True)
    dg = torch.autograd.grad(disc_loss, list(D.parameters()))
    for p, g in zip(G.parameters(), gg):
        p.grad = g
    for p, g in zip(D.parameters(), dg):
        p.grad = g
    opt_g.step()
    opt_d.step()

    assert torch.allclose(losses["gen"], gen_loss) and torch.allclose(losses["disc"], disc_loss)
    assert torch.allclose(losses["d_real"], torch.sigmoid(real_out).mean())
    assert torch.allclose(losses["d_fake"], torch.sigmoid(fake_out).mean())
    norm_g = torch.sqrt(sum((g ** 2).sum() for g in gg))
    assert torch.allclose(losses["grad_G"], norm_g)
    for a, b in zip(list(trainer.G.parameters()) + list(trainer.D.parameters()),
                    list(G.parameters()) + list(D.parameters())):
        assert torch.allclose(a, b, atol=1e-7)


def test_r1_penalty_is_the_squared_gradient_norm_at_the_real_images():
    from ganrun.losses import r1_penalty

    w = torch.randn(1, 3, 4, 4, requires_grad=True)
    real = torch.randn(5, 3, 4, 4, requires_grad=True)
    penalty = r1_penalty((real * w).sum((1, 2, 3)), real)  # linear D: grad_x D = w
    assert torch.allclose(penalty, w.square().sum())
    (grad_w,) = torch.autograd.grad(penalty, w)  # differentiable, for D's update
    assert torch.allclose(grad_w, 2 * w)


def test_r1_gamma_adds_the_penalty_to_ds_loss_and_gradient(registry):
    from ganrun.engine import build_trainer
    from ganrun.plugins import get_plugin_manager
    from ganrun.recipe import load_recipe
    from tests.conftest import RECIPES

    pm = get_plugin_manager()
    recipe = load_recipe(RECIPES / "quickstart.yaml",
                         ["model.g_widths=[8,4,2]", "model.d_widths=[4,8]", "train.batch_size=4",
                          "model.r1_gamma=10", "model.r1_every=1", "model.loss=hinge",
                          "model.g_ema=0"],
                         registry=registry)
    trainer = build_trainer(recipe, pm, registry, torch.device("cpu"))
    G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
    real = torch.rand(4, 1, 28, 28) * 2 - 1

    torch.manual_seed(3)
    losses = trainer.train_step({"image": real, "label": torch.zeros(4, dtype=torch.long)})

    torch.manual_seed(3)  # written plainly: hinge loss + 10 / 2 * E||grad_x D(x)||^2
    fake = G(torch.randn(4, 100))
    x = real.clone().requires_grad_(True)
    real_out, fake_out = D(x), D(fake)
    (grad_x,) = torch.autograd.grad(real_out.sum(), x, create_graph=True)
    r1 = grad_x.square().sum((1, 2, 3)).mean()
    disc = F.relu(1 - real_out).mean() + F.relu(1 + fake_out).mean() + 5 * r1
    dg = torch.autograd.grad(disc, list(D.parameters()))
    assert r1 > 0 and torch.allclose(losses["r1"], r1) and torch.allclose(losses["disc"], disc)
    assert torch.allclose(losses["grad_D"], torch.sqrt(sum((g ** 2).sum() for g in dg)))


def test_lazy_r1_runs_every_kth_step_weighted_k_times_and_resumes_its_count(registry):
    from ganrun.engine import build_trainer
    from ganrun.plugins import get_plugin_manager
    from ganrun.recipe import load_recipe
    from tests.conftest import RECIPES

    pm = get_plugin_manager()

    def trainer(gamma: float, every: int):
        torch.manual_seed(0)  # the same initial weights for both
        recipe = load_recipe(RECIPES / "quickstart.yaml",
                             ["model.g_widths=[8,4,2]", "model.d_widths=[4,8]",
                              "train.batch_size=4", f"model.r1_gamma={gamma}",
                              f"model.r1_every={every}", "model.g_ema=0"], registry=registry)
        return build_trainer(recipe, pm, registry, torch.device("cpu"))

    batch = {"image": torch.rand(4, 1, 28, 28) * 2 - 1, "label": torch.zeros(4, dtype=torch.long)}
    lazy, eager = trainer(2.0, 3), trainer(6.0, 1)  # gamma / 2 * k: 3 on a lazy step, 3 always
    torch.manual_seed(5)
    first = lazy.train_step(batch)
    torch.manual_seed(5)
    same = eager.train_step(batch)
    assert torch.allclose(first["r1"], same["r1"]) and torch.allclose(first["disc"], same["disc"])
    sent = [True] + ["r1" in lazy.train_step(batch) for _ in range(3)]
    assert sent == [True, False, False, True]
    assert lazy.extra_state()["steps"] == 4
    resumed = trainer(2.0, 3)
    resumed.load_extra_state(lazy.extra_state())
    assert "r1" not in resumed.train_step(batch)  # step 4: not a multiple of 3
