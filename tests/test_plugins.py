"""Plugins: entry-point loading, role replacement, contract checks, `ganrun plugins`."""
from __future__ import annotations

import importlib.metadata as md
import sys
import types

import pytest
import torch

from ganrun import hookimpl
from ganrun.engine import build_trainer
from ganrun.errors import PluginError, UserError
from ganrun.plugins import PluginManager, get_plugin_manager
from ganrun.recipe import load_recipe
from ganrun.registry import Registry
from tests.conftest import RECIPES


def test_builtins_load_through_the_entry_point_group():
    pm = get_plugin_manager()
    names = {r.name for r in pm.records}
    assert {"dcgan", "tracking", "grids", "checkpointing", "progress", "datasets"} <= names
    assert all(r.distribution == "ganrun" for r in pm.records)
    assert "ganrun_make_trainer" in pm.hooks_of("dcgan")
    assert "ganrun_run_end" in pm.hooks_of("tracking")


def test_plugins_command_lists_plugins_versions_and_hooks(capsys):
    from ganrun.cli import main

    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "dcgan  (ganrun 0.1.0, ganrun_plugins.dcgan.plugin:plugin)" in out
    assert "hooks: ganrun_make_discriminator, ganrun_make_generator" in out
    assert "methods: cam, cgan, cyclegan, dcgan, stargan\n" in out


def test_the_registry_tells_translating_methods_from_sampling_ones(registry):
    pm = get_plugin_manager()
    assert registry.method("cyclegan").translate_example == "AtoB"
    assert registry.method("dcgan").translate_example == ""  # samples from noise
    assert registry.method("stargan").translate_example == "ATTRIBUTE=1"
    assert all("ganrun_translator" in pm.hooks_of(name) for name in ("cyclegan", "stargan"))


class SpectralD(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(784, 1))

    def forward(self, x):
        return self.fc(x.flatten(1))


class ReplaceDiscriminator:
    """A third-party plugin that answers one role and leaves the rest to dcgan."""

    @hookimpl
    def ganrun_make_discriminator(self, recipe, name):
        return SpectralD() if recipe.method == "dcgan" else None


def test_a_plugin_can_replace_one_role(registry):
    pm = get_plugin_manager()
    pm.add(ReplaceDiscriminator(), "spectral")
    recipe = load_recipe(RECIPES / "quickstart.yaml", ["model.g_widths=[8,4,2]"], registry=registry)
    trainer = build_trainer(recipe, pm, registry, torch.device("cpu"))
    assert isinstance(trainer.D, SpectralD)
    assert type(trainer.G).__name__ == "Generator"  # still the dcgan plugin's
    out = trainer.train_step({"image": torch.rand(64, 1, 28, 28) * 2 - 1,
                              "label": torch.zeros(64, dtype=torch.long)})
    # r1: the quick start's lazy R1 penalty, taken on the first step
    assert {"gen", "disc", "d_real", "d_fake", "grad_G", "grad_D", "r1"} == set(out)


def test_a_role_answer_of_the_wrong_type_is_named(registry):
    class Broken:
        @hookimpl
        def ganrun_make_generator(self, recipe, name):
            return "not a network"

    pm = get_plugin_manager()
    pm.add(Broken(), "broken")
    recipe = load_recipe(RECIPES / "quickstart.yaml", registry=registry)
    with pytest.raises(PluginError, match="ganrun_make_generator.*returned str, not a torch.nn.Module"):
        build_trainer(recipe, pm, registry, torch.device("cpu"))


def test_a_hook_with_wrong_arguments_is_refused():
    class WrongArgs:
        @hookimpl
        def ganrun_step_end(self, run, losses, extra):
            pass

    with pytest.raises(PluginError, match="plugin 'wrong' breaks a hook contract"):
        PluginManager().add(WrongArgs(), "wrong")


def test_a_misspelt_hook_is_refused():
    class Misspelt:
        @hookimpl
        def ganrun_stepend(self, run):
            pass

    with pytest.raises(PluginError, match="plugin 'typo' breaks a hook contract"):
        PluginManager().add(Misspelt(), "typo")


def test_a_plugin_that_fails_to_import_is_named_in_one_line(monkeypatch, capsys):
    ep = md.EntryPoint(name="badplug", value="no_such_module_xyz.plugin", group="ganrun")
    real = md.entry_points
    monkeypatch.setattr(md, "entry_points",
                        lambda group=None: list(real(group=group)) + [ep] if group == "ganrun" else real(group=group))
    from ganrun.cli import main

    assert main(["plugins"]) == 0  # the others load: a one-line warning names it
    out, err = capsys.readouterr()
    assert "\n" not in err.strip() and err.startswith("ganrun: warning: ")
    assert "plugin 'badplug' (no_such_module_xyz.plugin" in err and "failed to import" in err
    assert "dcgan  (ganrun" in out
    assert main(["plugins", "--check"]) == 2
    assert "ganrun: error: plugin 'badplug'" in capsys.readouterr().err


def test_duplicate_method_names_are_refused(monkeypatch):
    from ganrun.registry import MethodInfo

    module = types.ModuleType("dup_plugin")
    module.ganrun_register_methods = hookimpl(lambda: [MethodInfo("dcgan", object)])
    monkeypatch.setitem(sys.modules, "dup_plugin", module)
    monkeypatch.setenv("GANRUN_PLUGINS", "dup_plugin")
    pm = get_plugin_manager()
    with pytest.raises(PluginError, match="registers method 'dcgan', which another plugin"):
        Registry.from_hooks(pm.hook)


def test_a_plugin_adds_a_strictly_checked_recipe_section():
    from dataclasses import dataclass

    from ganrun.registry import SectionInfo
    from ganrun.schema import limit

    @dataclass
    class Extra:
        every: int = limit(2, ge=1)
        on: bool = False

    class Adds:
        @hookimpl
        def ganrun_register_sections(self):
            return [SectionInfo("extra", Extra)]

    pm = get_plugin_manager()
    pm.add(Adds(), "adds")
    registry = Registry.from_hooks(pm.hook)
    quick = RECIPES / "quickstart.yaml"
    recipe = load_recipe(quick, ["extra.on=true"], registry=registry)
    assert recipe.extra.on is True and recipe.extra.every == 2  # defaults filled in
    assert load_recipe(quick, registry=registry).extra.on is False
    with pytest.raises(UserError, match="extra.every: 0 must be >= 1"):
        load_recipe(quick, ["extra.every=0"], registry=registry)
    with pytest.raises(UserError, match="extra.typo"):
        load_recipe(quick, ["extra.typo=1"], registry=registry)

    class Clash:
        @hookimpl
        def ganrun_register_sections(self):
            return [SectionInfo("train", Extra)]

    pm.add(Clash(), "clash")
    with pytest.raises(PluginError, match="recipe section 'train', which the core uses"):
        load_recipe(quick, registry=Registry.from_hooks(pm.hook))
