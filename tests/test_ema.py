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


def test_dcgan_exports_and_checkpoints_the_average(tiny_recipe, tmp_path):
    from ganrun.checkpoint import load_checkpoint

    s = train_once(tmp_path, [str(tiny_recipe(epochs=2, every=0)), "track.enabled=false",
                              "model.g_ema=0.9"])
    assert s["status"] == "FINISHED"
    trainer = load_checkpoint(Path(s["output_dir"]) / "checkpoints" / "ckpt-epoch0002.pt")["trainer"]
    average, live = trainer["extra"]["G_ema"], trainer["networks"]["G"]
    exported = load_file(s["generator"])
    assert exported.keys() == average.keys()
    assert all(torch.equal(v, average[k].contiguous()) for k, v in exported.items())
    weights = [k for k in exported if k.endswith("weight")]
    assert all(not torch.equal(exported[k], live[k].contiguous()) for k in weights)
