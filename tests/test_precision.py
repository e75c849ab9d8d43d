"""train.precision (bf16, fp16 with its gradient scaler), channels_last and the device
refusals, on CPU, through a tiny dcgan run and the Trainer's gradient helpers."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from tests.conftest import train_once
from ganrun.checkpoint import load_checkpoint
from ganrun.device import prepare_network
from ganrun.precision import Precision, native_bf16
from ganrun.schema import TrainConfig
from ganrun.trainer import Trainer


def test_fp16_scales_the_loss_and_unscales_before_the_step():
    torch.manual_seed(0)
    net = nn.Linear(3, 1)
    x = torch.randn(5, 3)
    want = torch.autograd.grad(net(x).square().mean(), list(net.parameters()))
    trainer = Trainer({"G": net}, {}, torch.device("cpu"))
    trainer.precision = Precision("fp16")
    trainer.optimizers = {"G": torch.optim.SGD(net.parameters(), lr=0.0)}
    params = list(net.parameters())
    scaled = trainer.grads(net(x).square().mean(), params)
    scale = trainer.precision.scaler.get_scale()
    assert scale > 1
    for g, w in zip(scaled, want):
        assert torch.allclose(g, w * scale, rtol=1e-5)
    for p, g in zip(params, scaled):
        p.grad = g
    trainer.step("G")  # the scaler divides the gradients in place before stepping
    for p, w in zip(params, want):
        assert torch.allclose(p.grad, w, rtol=1e-5)


def test_channels_last_converts_the_networks_weights():
    net = prepare_network(nn.Conv2d(3, 8, 3), TrainConfig(channels_last=True), torch.device("cpu"))
    assert net.weight.is_contiguous(memory_format=torch.channels_last)
    assert not net.weight.is_contiguous()


@pytest.fixture(scope="module")
def fp32_run(tmp_path_factory):
    from tests.conftest import RECIPES, TINY

    work = tmp_path_factory.mktemp("fp32")
    (work / "tiny.yaml").write_text(TINY.format(base=RECIPES / "quickstart.yaml", epochs=2, every=1))
    return work, train_once(work, ["tiny.yaml", "track.enabled=false"])


NATIVE_BF16 = native_bf16(torch.device("cpu"))


@pytest.mark.parametrize("option", [
    pytest.param("train.precision=bf16", marks=pytest.mark.skipif(
        not NATIVE_BF16, reason="this CPU has no native bf16: refused (tested below)")),
    "train.precision=fp16", "train.channels_last=true"])
def test_a_run_trains_in_each_precision_and_memory_format(option, fp32_run):
    work, fp32 = fp32_run
    s = train_once(work, ["tiny.yaml", "track.enabled=false", option])
    assert s["status"] == "FINISHED"
    a, b = load_file(s["generator"]), load_file(fp32["generator"])
    assert a.keys() == b.keys() and all(torch.isfinite(v).all() for v in a.values())
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    if option.endswith("channels_last=true"):
        assert diff < 1e-3  # the same arithmetic in another order
    else:
        assert diff > 1e-6  # the low precision really ran
    if option.endswith("fp16"):
        state = load_checkpoint(Path(s["output_dir"]) / "checkpoints" / "ckpt-epoch0002.pt")
        assert state["trainer"]["precision"]["scale"] > 0  # the scaler resumes where it was


def test_sync_batchnorm_on_a_cpu_is_refused(tiny_recipe, capsys):
    from ganrun.cli import main

    assert main([str(tiny_recipe()), "train.sync_batchnorm=true"]) == 2
    assert capsys.readouterr().err.strip() == (
        "ganrun: error: train.sync_batchnorm: torch's SyncBatchNorm runs on CUDA devices "
        "only; on CPUs each process normalises its own share of the batch")


def test_an_unknown_precision_is_refused(tiny_recipe, capsys):
    from ganrun.cli import main

    assert main([str(tiny_recipe()), "train.precision=fp8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganrun: error: ") and "train.precision: 'fp8' must be one of" in err
    assert "auto" in err
    assert "\n" not in err


def test_bf16_on_a_cpu_without_native_bf16_is_refused(tiny_recipe, capsys, monkeypatch):
    from ganrun import precision
    from ganrun.cli import main

    monkeypatch.setattr(precision, "native_bf16", lambda device: False)
    assert main([str(tiny_recipe()), "train.precision=bf16", "track.enabled=false"]) == 2
    assert capsys.readouterr().err.strip() == (
        "ganrun: error: train.precision: bf16 is emulated on this CPU (no AVX512-BF16 or AMX), "
        "slower than fp32; use fp32, or auto to take bf16 only where it is native")


@pytest.mark.parametrize("native", [False, True])
def test_auto_takes_bf16_only_where_native_and_the_method_measured_it(native, monkeypatch):
    from ganrun import precision
    from ganrun_plugins.cgan.method import CGANTrainer
    from ganrun_plugins.cyclegan.method import CycleGANTrainer
    from ganrun_plugins.dcgan.method import DCGANTrainer

    monkeypatch.setattr(precision, "native_bf16", lambda device: native)
    cpu = torch.device("cpu")
    name, why = precision.resolve_precision("auto", cpu, DCGANTrainer.auto_bf16)
    assert DCGANTrainer.auto_bf16 and name == ("bf16" if native else "fp32")
    assert why.startswith("auto: ") and ("native" in why)
    assert CycleGANTrainer.auto_bf16  # measured: bench/quality_cyclegan.py, docs/cyclegan.md
    assert precision.resolve_precision("auto", cpu, CycleGANTrainer.auto_bf16)[0] == name
    assert not CGANTrainer.auto_bf16  # not measured: fp32 under auto, saying why
    assert precision.resolve_precision("auto", cpu, CGANTrainer.auto_bf16) == (
        "fp32", "auto: cpu without native bf16" if not native
        else "auto: the method has not measured its quality in bf16")
    assert precision.resolve_precision("fp32", cpu, True) == ("fp32", "as the recipe asks")


def test_auto_falls_back_to_fp32_with_a_note_in_the_run_report(tiny_recipe, monkeypatch, capsys):
    from ganrun import precision
    from ganrun.cli import main

    monkeypatch.setattr(precision, "native_bf16", lambda device: False)
    assert main([str(tiny_recipe(epochs=1)), "train.precision=auto", "track.enabled=false",
                 "metrics.every=0"]) == 0
    assert "precision: fp32 (auto: cpu without native bf16)" in capsys.readouterr().out
