"""ganrun.ema and dcgan's model.g_ema: the averaged generator is what a run hands out."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from ganrun.ema import WeightAverage
from tests.conftest import train_once


def test_the_average_follows_eq_2_and_copies_buffers():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    avg = WeightAverage(net, 0.9)
    avg.updates = 100  # past the warm-up: the decay is beta
    before = avg.net[0].weight.clone()
    with torch.no_grad():
        net[0].weight.add_(1.0)
        net[1].running_mean.fill_(3.0)
    avg.update(net)
    assert torch.allclose(avg.net[0].weight, 0.9 * before + 0.1 * net[0].weight)
    assert torch.equal(avg.net[1].running_mean, net[1].running_mean)
    assert not any(p.requires_grad for p in avg.net.parameters()) and not avg.net.training
    with pytest.raises(ValueError):
        WeightAverage(net, 1.0)


def test_the_decay_warms_up_as_tensorflows_num_updates():
    net = nn.Linear(2, 2)
    avg = WeightAverage(net, 0.999)
    decays = []
    for _ in range(3):
        decays.append(avg.decay())
        avg.update(net)
    assert decays == pytest.approx([0.1, 2 / 11, 3 / 12])
    avg.updates = 10_000
    assert avg.decay() == 0.999
    with torch.no_grad():  # the first update moves 90% of the way: the init is soon gone
        fresh = WeightAverage(net, 0.999)
        start = fresh.net.weight.clone()
        net.weight.add_(1.0)
        fresh.update(net)
    assert torch.allclose(fresh.net.weight, start + 0.9)
    restored = WeightAverage(net, 0.999)
    restored.load_state_dict(fresh.state_dict())
    assert restored.updates == 1 and torch.equal(restored.net.weight, fresh.net.weight)
    restored.load_state_dict(fresh.net.state_dict())  # an older checkpoint's plain state
    assert restored.decay() == 0.999 and torch.equal(restored.net.weight, fresh.net.weight)


def test_dcgan_exports_and_checkpoints_the_average(tiny_recipe, tmp_path):
    from ganrun.checkpoint import load_checkpoint

    s = train_once(tmp_path, [str(tiny_recipe(epochs=2, every=0)), "track.enabled=false",
                              "model.g_ema=0.9"])
    assert s["status"] == "FINISHED"
    trainer = load_checkpoint(Path(s["output_dir"]) / "checkpoints" / "ckpt-epoch0002.pt")["trainer"]
    average, live = trainer["extra"]["G_ema"]["net"], trainer["networks"]["G"]
    exported = load_file(s["generator"])
    assert exported.keys() == average.keys()
    assert all(torch.equal(v, average[k].contiguous()) for k, v in exported.items())
    weights = [k for k in exported if k.endswith("weight")]
    assert all(not torch.equal(exported[k], live[k].contiguous()) for k in weights)
