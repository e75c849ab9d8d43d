"""CycleGAN: the official architecture, each loss term, the pool, the schedule, the importer."""
from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganrun.errors import UserError
from ganrun.pool import ImagePool
from ganrun.precision import Precision
from ganrun.schedules import linear_decay
from ganrun_plugins.cyclegan.method import CycleGANConfig, CycleGANTrainer, make_losses
from ganrun_plugins.cyclegan.networks import PatchDiscriminator, ResnetGenerator
from ganrun_plugins.cyclegan.official import import_official
from ganrun_plugins.cyclegan.plugin import plugin


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_official_architecture_at_256():
    g, d = ResnetGenerator(), PatchDiscriminator()
    assert n_params(g) == 11_378_179  # official resnet_9blocks, ngf 64, instance norm
    assert n_params(d) == 2_764_737  # official 70x70 PatchGAN, ndf 64, 3 layers
    assert n_params(ResnetGenerator(n_blocks=6)) == 7_837_699
    assert g.model[-2].weight.is_contiguous(memory_format=torch.channels_last)  # the to-RGB conv
    with torch.no_grad():
        assert d(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
        assert ResnetGenerator(ngf=8)(torch.zeros(1, 3, 256, 256)).shape == (1, 3, 256, 256)


def test_reflection_pads_stay_in_bf16_under_cpu_autocast():
    g = ResnetGenerator(1, 1, ngf=4, n_blocks=1)
    pads = [m for m in g.modules() if isinstance(m, nn.ReflectionPad2d)]
    seen: list[tuple[torch.dtype, torch.dtype]] = []
    for m in pads:
        m.register_forward_hook(lambda m, args, out: seen.append((args[0].dtype, out.dtype)))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = g(torch.rand(2, 1, 8, 8))
    assert len(seen) == len(pads) == 4 and y.dtype == torch.bfloat16
    assert seen[0] == (torch.float32, torch.float32)  # the image itself is not cast
    assert all(dtypes == (torch.bfloat16, torch.bfloat16) for dtypes in seen[1:])  # no round trip
    with torch.no_grad():  # and outside autocast: the same values as torch's own padding
        x = torch.randn(2, 3, 5, 5)
        assert torch.equal(pads[1](x), F.pad(x, (1, 1, 1, 1), mode="reflect"))


def test_init_is_normal_002_with_zero_bias():
    recipe = SimpleNamespace(model=CycleGANConfig(), method="cyclegan")
    g = plugin.generator(recipe, "genAB")
    conv = g.model[1]
    assert abs(conv.weight.std().item() - 0.02) < 0.002 and abs(conv.weight.mean().item()) < 0.002
    assert torch.all(conv.bias == 0)
    norms = [m for m in g.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and all(not m.affine and not m.track_running_stats for m in norms)


class Scale(nn.Module):
    """x -> w * x with one learnable scalar: a stand-in network with known outputs."""

    def __init__(self, w: float):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return self.w * x


def hand_trainer(a=0.5, b=2.0, c=0.8, **cfg):
    recipe = SimpleNamespace(model=CycleGANConfig(**cfg), method="cyclegan")
    gens = {"genAB": Scale(a), "genBA": Scale(b)}
    discs = {"discA": Scale(c), "discB": Scale(c)}
    return CycleGANTrainer(recipe, gens, discs, make_losses(recipe.model), torch.device("cpu"))


def test_generator_loss_terms_on_hand_made_tensors():
    a, b, c = 0.5, 2.0, 0.8
    t = hand_trainer(a, b, c)
    realA, realB = torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 2, 2), -0.5)
    terms, fakeA, fakeB = t.generator_losses(realA, realB)
    expect = {
        "gen_adv_AB": (c * a * 0.5 - 1) ** 2,  # LSGAN: discB(genAB(realA)) vs 1
        "gen_adv_BA": (c * b * -0.5 - 1) ** 2,  # discA(genBA(realB)) vs 1
        "cycle_A": 10 * abs(b * a * 0.5 - 0.5),  # lambda_A |genBA(genAB(realA)) - realA|
        "cycle_B": 10 * abs(a * b * -0.5 + 0.5),
        "idt_B": 10 * 0.5 * abs(a * -0.5 + 0.5),  # lambda_B lambda_idt |genAB(realB) - realB|
        "idt_A": 10 * 0.5 * abs(b * 0.5 - 0.5),  # lambda_A lambda_idt |genBA(realA) - realA|
    }
    assert set(terms) == set(expect)
    for k, v in expect.items():
        assert terms[k].item() == pytest.approx(v), k
    assert torch.allclose(fakeB, realA * a) and torch.allclose(fakeA, realB * b)
    no_idt, _, _ = hand_trainer(a, b, c, lambda_identity=0.0).generator_losses(realA, realB)
    assert "idt_A" not in no_idt and "idt_B" not in no_idt


def test_discriminator_loss_is_half_the_sum():
    c = 0.8
    t = hand_trainer(c=c)
    real, fake = torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 2, 2), -0.25)
    got = t.discriminator_loss(t.discA, real, fake).item()
    assert got == pytest.approx(0.5 * ((c * 0.5 - 1) ** 2 + (c * -0.25) ** 2))


def test_batched_calls_give_the_official_separate_calls_losses_and_gradients():
    # float64: the networks' instance norms at 16x16 amplify float32 rounding to ~0.3% in
    # the gradients; in float64 any difference is an error in the batching, not rounding
    torch.manual_seed(0)
    recipe = SimpleNamespace(model=CycleGANConfig(ngf=4, ndf=4, n_layers_D=2, channels=1),
                             method="cyclegan")
    gens = {k: plugin.generator(recipe, k).double() for k in ("genAB", "genBA")}
    discs = {k: plugin.discriminator(recipe, k).double() for k in ("discA", "discB")}
    t = CycleGANTrainer(recipe, gens, discs, make_losses(recipe.model), torch.device("cpu"))
    realA, realB = (torch.rand(3, 1, 16, 16, dtype=torch.float64) * 2 - 1 for _ in "AB")
    terms, fakeA, fakeB = t.generator_losses(realA, realB)
    gAB, gBA, dA, dB = gens["genAB"], gens["genBA"], discs["discA"], discs["discB"]
    mse, l1 = F.mse_loss, F.l1_loss
    fB, fA = gAB(realA), gBA(realB)  # the official forward: one call per input
    pB, pA = dB(fB), dA(fA)
    want = {"gen_adv_AB": mse(pB, torch.ones_like(pB)), "gen_adv_BA": mse(pA, torch.ones_like(pA)),
            "cycle_A": 10 * l1(gBA(fB), realA), "cycle_B": 10 * l1(gAB(fA), realB),
            "idt_B": 5 * l1(gAB(realB), realB), "idt_A": 5 * l1(gBA(realA), realA)}
    assert set(terms) == set(want)
    assert torch.allclose(fakeB, fB, rtol=1e-12, atol=1e-12) and torch.allclose(fakeA, fA, rtol=1e-12, atol=1e-12)
    for k, v in want.items():
        assert terms[k].item() == pytest.approx(v.item(), rel=1e-10), k
    params = [*gAB.parameters(), *gBA.parameters()]
    got_g = torch.autograd.grad(sum(terms.values()), params)
    want_g = torch.autograd.grad(sum(want.values()), params)
    assert all(torch.allclose(a, b, rtol=1e-8, atol=1e-12) for a, b in zip(got_g, want_g))
    fake = fB.detach()
    on_real, on_fake = dB(realB), dB(fake)
    want_d = 0.5 * (mse(on_real, torch.ones_like(on_real)) + mse(on_fake, torch.zeros_like(on_fake)))
    assert t.discriminator_loss(dB, realB, fake).item() == pytest.approx(want_d.item(), rel=1e-10)


def test_a_bf16_step_runs_the_networks_in_bf16_and_the_losses_in_fp32():
    torch.manual_seed(0)
    recipe = SimpleNamespace(model=CycleGANConfig(ngf=4, ndf=4, n_layers_D=2, channels=1),
                             method="cyclegan")
    gens = {k: plugin.generator(recipe, k) for k in ("genAB", "genBA")}
    discs = {k: plugin.discriminator(recipe, k) for k in ("discA", "discB")}
    t = CycleGANTrainer(recipe, gens, discs, make_losses(recipe.model), torch.device("cpu"))
    t.precision = Precision("bf16")
    before = [p.detach().clone() for p in gens["genAB"].parameters()]
    batch = {"A": torch.rand(2, 1, 16, 16) * 2 - 1, "B": torch.rand(2, 1, 16, 16) * 2 - 1}
    with t.precision.autocast():  # as the engine runs every step
        out = t.train_step(batch)
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in out.values())
    assert t.pools["fakeA"].images[0].dtype == torch.bfloat16  # the generators ran in bf16
    after = list(gens["genAB"].parameters())
    assert all(p.dtype == torch.float32 for p in after)  # weights and Adam stay fp32
    assert any(not torch.equal(a, b) for a, b in zip(before, after))


def test_one_step_updates_generators_once_and_discriminators_from_the_pool():
    t = hand_trainer()
    before = {k: next(n.parameters()).item() for k, n in t.networks.items()}
    out = t.train_step({"A": torch.full((2, 1, 2, 2), 0.5), "B": torch.full((2, 1, 2, 2), -0.5)})
    after = {k: next(n.parameters()).item() for k, n in t.networks.items()}
    assert all(before[k] != after[k] for k in before)  # Adam moved every network
    assert len(t.pools["fakeA"]) == 2 and len(t.pools["fakeB"]) == 2
    assert out["gen"].item() == pytest.approx(sum(out[k].item() for k in
                                                  ("gen_adv_AB", "gen_adv_BA", "cycle_A",
                                                   "cycle_B", "idt_A", "idt_B")))
    assert out["disc"].item() == pytest.approx(out["disc_A"].item() + out["disc_B"].item())


def test_image_pool_fills_then_swaps_half_the_time():
    random.seed(0)
    pool = ImagePool(3)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and len(pool) == 3  # filling: returned as is
    new = torch.arange(100.0, 300.0).view(200, 1, 1, 1)
    out = pool.query(new)
    from_pool = (out != new).flatten()
    assert 70 < from_pool.sum().item() < 130  # ~50% are earlier images
    assert len(pool) == 3 and (torch.cat(pool.images) >= 100).all()  # new ones swapped in
    state = pool.state_dict()
    again = ImagePool(0)
    again.load_state_dict(state)
    assert again.size == 3 and torch.equal(torch.cat(again.images), torch.cat(pool.images))
    assert torch.equal(ImagePool(0).query(new), new)  # size 0: no pool


def official_query(pool: list, size: int, images: torch.Tensor) -> torch.Tensor:
    """The official ``ImagePool.query`` (util/image_pool.py), for comparison."""
    out = []
    for image in images:
        image = torch.unsqueeze(image.data, 0)
        if len(pool) < size:
            pool.append(image)
            out.append(image)
        elif random.uniform(0, 1) > 0.5:
            i = random.randint(0, size - 1)
            out.append(pool[i].clone())
            pool[i] = image
        else:
            out.append(image)
    return torch.cat(out, 0)


def test_image_pool_matches_the_official_query_and_keeps_its_own_copies():
    ours, theirs = ImagePool(5), []
    for seed in range(6):
        batch = torch.randn(4, 3, 6, 6).contiguous(memory_format=torch.channels_last)
        random.seed(seed)
        want = official_query(theirs, 5, batch.clone())
        random.seed(seed)
        got = ours.query(batch)
        assert torch.equal(got, want) and torch.equal(torch.cat(ours.images), torch.cat(theirs))
        if got.data_ptr() != batch.data_ptr():  # earlier images swapped in: a new batch
            assert got.is_contiguous(memory_format=torch.channels_last)
        batch.fill_(7.0)  # the caller reuses its batch: the pool must not see it
        assert not (torch.cat(ours.images) == 7.0).any()
    one_image = 3 * 6 * 6 * 4  # bytes: a stored image does not pin the batch it came from
    assert all(im.untyped_storage().nbytes() == one_image for im in ours.images)
    fresh = ImagePool(8)
    batch = torch.randn(4, 3, 6, 6)
    assert fresh.query(batch).data_ptr() == batch.data_ptr()  # filling: no copy


def test_linear_decay_at_the_epoch_boundaries():
    opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=2e-4)
    sched = linear_decay(opt, n_epochs=100, n_epochs_decay=100)
    lrs = {}
    for epoch in range(1, 201):  # the rate epoch `epoch` trains with
        lrs[epoch] = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
    assert lrs[1] == lrs[100] == pytest.approx(2e-4)
    assert lrs[101] == pytest.approx(2e-4 * 100 / 101)
    assert lrs[150] == pytest.approx(2e-4 * 51 / 101)
    assert lrs[200] == pytest.approx(2e-4 / 101)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0)  # after the last epoch


def reference_forward(state: dict[str, torch.Tensor], x: torch.Tensor, blocks: int) -> torch.Tensor:
    """The official ResnetGenerator's computation written out from its state-dict keys with
    torch.nn.functional: an independent oracle for the imported network's output."""
    def conv(x, i, **kw):
        return F.conv2d(x, state[f"{i}.weight"], state[f"{i}.bias"], **kw)

    inorm, relu = F.instance_norm, F.relu
    x = relu(inorm(conv(F.pad(x, (3,) * 4, mode="reflect"), "model.1")))
    x = relu(inorm(conv(x, "model.4", stride=2, padding=1)))
    x = relu(inorm(conv(x, "model.7", stride=2, padding=1)))
    for i in range(10, 10 + blocks):
        y = relu(inorm(conv(F.pad(x, (1,) * 4, mode="reflect"), f"model.{i}.conv_block.1")))
        x = x + inorm(conv(F.pad(y, (1,) * 4, mode="reflect"), f"model.{i}.conv_block.5"))
    for i in (10 + blocks, 13 + blocks):
        x = relu(inorm(F.conv_transpose2d(x, state[f"model.{i}.weight"], state[f"model.{i}.bias"],
                                          stride=2, padding=1, output_padding=1)))
    return torch.tanh(conv(F.pad(x, (3,) * 4, mode="reflect"), f"model.{17 + blocks}"))


def test_import_official_generator_and_its_output(tmp_path):
    torch.manual_seed(0)
    official = ResnetGenerator(3, 3, ngf=8, n_blocks=9)
    state = {k: v + 0.01 * torch.randn_like(v) for k, v in official.state_dict().items()}
    # as old official checkpoints have them: InstanceNorm running stats, DataParallel prefix
    saved = {f"module.{k}": v for k, v in state.items()}
    saved["module.model.2.running_mean"] = torch.zeros(8)
    torch.save(saved, tmp_path / "latest_net_G_A.pth")
    out = import_official(tmp_path / "latest_net_G_A.pth", tmp_path / "h2z.safetensors")
    from ganrun.checkpoint import read_generator

    tensors, meta = read_generator(out)
    assert meta["network"] == "genAB" and "resnet_9blocks" in meta["recipe"]
    net = ResnetGenerator(3, 3, ngf=8, n_blocks=9)
    net.load_state_dict(tensors)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(net(x), reference_forward(state, x, 9), atol=1e-5)


def test_import_refuses_another_shape_naming_the_key(tmp_path):
    torch.save(PatchDiscriminator(3, 8).state_dict(), tmp_path / "D.pth")
    with pytest.raises(UserError, match="key 'model.1.weight' is missing"):
        import_official(tmp_path / "D.pth", tmp_path / "x.safetensors")
    bad = ResnetGenerator(3, 3, ngf=8).state_dict()
    bad["model.4.weight"] = torch.zeros(16, 8, 5, 5)
    torch.save(bad, tmp_path / "G.pth")
    with pytest.raises(UserError, match="key 'model.4.weight' has shape"):
        import_official(tmp_path / "G.pth", tmp_path / "x.safetensors")
    (tmp_path / "evil.pth").write_bytes(b"not a pickle")
    with pytest.raises(UserError, match="not a PyTorch state dict"):
        import_official(tmp_path / "evil.pth", tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


OFFICIAL = {  # pytorch-CycleGAN-and-pix2pix defaults for train.py --model cycle_gan
    "model": {"netG": "resnet_9blocks", "ngf": 64, "ndf": 64, "n_layers_D": 3, "dropout": False,
              "init_gain": 0.02, "gan_mode": "least_squares", "lambda_A": 10.0,
              "lambda_B": 10.0, "lambda_identity": 0.5, "pool_size": 50, "lr": 2e-4,
              "betas": [0.5, 0.999], "n_epochs": 100, "n_epochs_decay": 100, "channels": 3},
    "data": {"name": "unaligned", "load_size": 286, "crop_size": 256, "flip": True},
    "train": {"batch_size": 1, "epochs": 200, "checkpoint_every": 5},
}


def test_horse2zebra_recipe_holds_the_official_defaults(registry):
    from omegaconf import OmegaConf

    from tests.conftest import RECIPES
    from ganrun.recipe import load_recipe

    recipe = OmegaConf.to_container(OmegaConf.structured(
        load_recipe(RECIPES / "cyclegan_horse2zebra.yaml", [], registry=registry)))
    for section, values in OFFICIAL.items():
        for key, value in values.items():
            assert recipe[section][key] == value, f"{section}.{key}"


def test_horse2zebra_without_its_data_names_the_folder_and_the_download(workdir, capsys):
    from tests.conftest import RECIPES
    from ganrun.cli import main

    assert main([str(RECIPES / "cyclegan_horse2zebra.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "data/horse2zebra" in err and "ganrun data download horse2zebra" in err
