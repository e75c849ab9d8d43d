"""``ganrun translate`` through the ``ganrun_translator`` role hook, with a fake method
installed as a plugin: the core reads, batches and writes; only the method runs networks."""
from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from ganrun import hookimpl
from ganrun.checkpoint import export_generator
from ganrun.cli import _next_step, main
from ganrun.registry import MethodInfo
from ganrun.translate import BATCH, Translator, bad_target

BIAS = 0.25  # the saved generator's weight: proves the translation used the loaded file


@dataclass
class ShiftConfig:
    channels: int = 1


class Shifter(torch.nn.Module):
    """A generator conditioned on a number, like StarGAN's G(x, c): never called as net(x)."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise AssertionError("the core called net(image)")

    def shift(self, x: torch.Tensor, c: float) -> torch.Tensor:
        return (x + self.bias + c).clamp(-1, 1)


def _register_methods():
    return [MethodInfo("shift", ShiftConfig, translate_example="shift=0.5"),
            MethodInfo("noisy", ShiftConfig)]


def _make_generator(recipe, name):
    return Shifter() if recipe.method in ("shift", "noisy") else None


def _translator(recipe, generators, target):
    if recipe.method != "shift":
        return None
    key, _, value = target.partition("=")
    if key != "shift" or not value.replace(".", "", 1).lstrip("-").isdigit():
        raise bad_target(target, ["shift=NUMBER"])
    net, calls = generators["G"].eval(), sys.modules["shift_plugin"].calls

    def translate(x: torch.Tensor) -> torch.Tensor:
        calls.append(len(x))
        return net.shift(x, float(value))

    return Translator(translate, channels=1, size=8)


@pytest.fixture
def plugin(monkeypatch):
    module = types.ModuleType("shift_plugin")
    module.calls = []
    for hook, fn in (("ganrun_register_methods", _register_methods),
                     ("ganrun_make_generator", _make_generator),
                     ("ganrun_translator", _translator)):
        setattr(module, hook, hookimpl(fn))
    monkeypatch.setitem(sys.modules, "shift_plugin", module)
    monkeypatch.setenv("GANRUN_PLUGINS", "shift_plugin")
    return module


def saved(tmp_path, method: str = "shift"):
    net = Shifter()
    net.bias.data.fill_(BIAS)
    recipe = f"method: {method}\ndata:\n  name: mnist5k\n"
    return export_generator(tmp_path / "model" / "G.safetensors", net, recipe, "G")


def test_the_core_asks_the_hook_and_batches_the_inputs(plugin, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(BATCH + 4):
        Image.new("L", (12, 20), color=127).save(inputs / f"im{i:02d}.png")
    out = tmp_path / "out"
    assert main(["translate", str(saved(tmp_path)), "--to", "shift=0.5", "--input",
                 str(inputs), "--out", str(out)]) == 0
    assert plugin.calls == [BATCH, 4]
    written = sorted(out.iterdir())
    assert [p.stem for p in written] == [f"im{i:02d}" for i in range(BATCH + 4)]
    pixels = np.asarray(Image.open(written[0]))
    assert pixels.shape == (8, 8)  # read as the Translator asked: grey, 8 x 8
    expected = ((127 - 127.5) / 127.5 + BIAS + 0.5 + 1) * 127.5
    assert np.abs(pixels.astype(float) - expected).max() <= 1


@pytest.mark.parametrize("method, target, message", [
    ("shift", "scale=2", "--to: unknown target 'scale=2' (known: shift=NUMBER)"),
    ("noisy", "x", "method 'noisy' samples from noise and translates nothing; use ganrun sample"),
])
def test_refusals_are_one_line_exit_2(plugin, tmp_path, capsys, method, target, message):
    image = tmp_path / "x.png"
    Image.new("L", (8, 8)).save(image)
    assert main(["translate", str(saved(tmp_path, method)), "--to", target, "--input",
                 str(image), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists() and plugin.calls == []


def test_the_run_report_suggests_the_methods_example_target(plugin):
    from ganrun.plugins import get_plugin_manager
    from ganrun.registry import Registry

    registry = Registry.from_hooks(get_plugin_manager().hook)

    def run(method):
        return SimpleNamespace(trainer=SimpleNamespace(generators={"G": None}), registry=registry,
                               recipe=SimpleNamespace(method=method), generator_path="gen")

    assert _next_step(run("shift")) == ("  translate: ganrun translate gen --to shift=0.5 "
                                        "--input IMAGES --out DIR")
    assert _next_step(run("noisy")).startswith("  sample: ganrun sample gen")
