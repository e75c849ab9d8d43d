"""`ganrun plugins --check`, and every command leaving broken plugins out with one warning."""
from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from ganrun import hookimpl
from ganrun.cli import main
from ganrun.engine import build_trainer
from ganrun.plugin_check import load_plugins
from ganrun.recipe import load_recipe
from ganrun.registry import MetricInfo, SectionInfo
from tests.conftest import RECIPES

# an "installed" distribution (a .dist-info on sys.path) with two broken plugins
BROKEN = Path(__file__).parent / "fixtures" / "broken_plugins"


@pytest.fixture
def broken_installed(monkeypatch):
    monkeypatch.syspath_prepend(str(BROKEN))


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


def test_check_names_a_misspelt_hook_and_a_duplicate_method(broken_installed, capsys):
    assert main(["plugins", "--check"]) == 2
    out, err = capsys.readouterr()
    errors = _lines(err)
    assert len(errors) == 2, err  # one line per broken plugin
    assert any("plugin 'broken_typo'" in e and "ganrun_epoch_ends is no ganrun hook "
               "(did you mean ganrun_epoch_end?)" in e for e in errors), err
    assert any("plugin 'broken_dup' registers method 'dcgan', which another plugin "
               "('dcgan') already registered" in e for e in errors), err
    assert "2 broken" in out


def test_the_shipped_plugins_pass_the_check(capsys):
    assert main(["plugins", "--check"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "all healthy" in out


def test_plain_plugins_lists_the_healthy_rest_and_warns_once_per_broken_one(
        broken_installed, capsys):
    assert main(["plugins"]) == 0
    out, err = capsys.readouterr()
    warnings = _lines(err)
    assert len(warnings) == 2 and all(w.startswith("ganrun: warning: plugin 'broken_")
                                      for w in warnings), err
    assert "dcgan  (ganrun 0.1.0" in out and "broken_" not in out
    assert "methods: cam, cgan, cyclegan, dcgan, stargan\n" in out


def test_training_builds_with_the_healthy_plugins_only(broken_installed):
    """The duplicate answers dcgan's roles with junk; left out, dcgan's own networks build."""
    pm, registry, problems = load_plugins()
    assert {p.plugin for p in problems} == {"broken_dup", "broken_typo"}
    assert not pm.has_plugin("broken_dup") and "broken_dup" not in {r.name for r in pm.records}
    recipe = load_recipe(RECIPES / "quickstart.yaml", ["model.g_widths=[8,4,2]",
                                                      "model.d_widths=[2,4]"], registry=registry)
    trainer = build_trainer(recipe, pm, registry, torch.device("cpu"))
    assert type(trainer.G).__name__ == "Generator" and type(trainer.D).__name__ == "Discriminator"


def _env_plugin(monkeypatch, name: str, **hooks) -> None:
    """Install a module of hook functions as plugin ``name`` through ``GANRUN_PLUGINS``."""
    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(module, hook, fn)
    monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setenv("GANRUN_PLUGINS", name)


def _check_errors(capsys) -> list[str]:
    assert main(["plugins", "--check"]) == 2
    return _lines(capsys.readouterr().err)


def test_a_role_hook_that_answers_for_any_method_is_named(monkeypatch, capsys):
    _env_plugin(monkeypatch, "greedy",
                ganrun_make_discriminator=hookimpl(lambda recipe, name: torch.nn.Identity()))
    (line,) = _check_errors(capsys)
    assert "plugin 'greedy' answers ganrun_make_discriminator for a method no plugin " \
           "registered (returned Identity)" in line


def test_a_role_hook_that_reads_the_recipe_before_the_method_is_named(monkeypatch, capsys):
    _env_plugin(monkeypatch, "eager", ganrun_make_losses=hookimpl(
        lambda recipe: {"x": 1} if recipe.model.noise_dim and recipe.method == "dcgan" else None))
    (line,) = _check_errors(capsys)
    assert "plugin 'eager' fails in ganrun_make_losses for a method it does not know: " \
           "AttributeError: recipe.model read before recipe.method was checked" in line


def test_a_schema_that_is_not_a_dataclass_is_named(monkeypatch, capsys):
    class NotADataclass:
        every: int = 2

    _env_plugin(monkeypatch, "loose", ganrun_register_sections=hookimpl(
        lambda: [SectionInfo("loose", NotADataclass)]))
    (line,) = _check_errors(capsys)
    assert "plugin 'loose' registers section 'loose' with schema=NotADataclass, which is " \
           "not a dataclass" in line


def test_two_plugins_claiming_one_section_are_named(monkeypatch, capsys):
    @dataclass
    class Extra:
        on: bool = False

    for name in ("first", "second"):
        module = types.ModuleType(name)
        module.ganrun_register_sections = hookimpl(lambda: [SectionInfo("extra", Extra)])
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setenv("GANRUN_PLUGINS", "first,second")
    (line,) = _check_errors(capsys)
    assert "plugin 'second' registers section 'extra', which another plugin ('first')" in line


def test_a_metric_said_to_be_best_both_lowest_and_highest_is_named(monkeypatch, capsys):
    both = frozenset({"eval/odd"})
    _env_plugin(monkeypatch, "twoways", ganrun_register_metrics=hookimpl(
        lambda: [MetricInfo("odd", lambda ev, real: None, lower_is_better=both,
                            higher_is_better=both)]))
    (line,) = _check_errors(capsys)
    assert "plugin 'twoways' registers metric 'odd' saying both lower and higher is better " \
           "for eval/odd" in line


def test_a_hook_function_without_the_marker_is_named(monkeypatch, capsys):
    _env_plugin(monkeypatch, "unmarked", ganrun_run_start=lambda run: None)
    (line,) = _check_errors(capsys)
    assert "plugin 'unmarked' breaks a hook contract: ganrun_run_start is not marked " \
           "@ganrun.hookimpl" in line


def test_a_registration_hook_that_raises_is_named_and_the_rest_still_trains(monkeypatch):
    def broken():
        raise RuntimeError("boom")

    _env_plugin(monkeypatch, "raiser", ganrun_register_methods=hookimpl(broken))
    pm, registry, problems = load_plugins()
    assert [str(p) for p in problems] == [
        "plugin 'raiser' failed in ganrun_register_methods: RuntimeError: boom"]
    assert "dcgan" in registry.methods and not pm.has_plugin("raiser")

