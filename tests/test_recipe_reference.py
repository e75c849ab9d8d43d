"""docs/recipe_reference.md: written from the schema dataclasses, never stale, every key
documented, third-party plugins left out, and the docs cite only keys that exist."""
from __future__ import annotations

import re
import sys
import types
from dataclasses import dataclass

import pytest

from ganrun import hookimpl
from ganrun.limits import limit
from ganrun.recipe_reference import class_doc, keys, main, parts, render, shipped_registry
from ganrun.registry import DatasetInfo, MethodInfo, SectionInfo
from ganrun.schema import DataConfig
from tests.conftest import REPO

REFERENCE = REPO / "docs" / "recipe_reference.md"
# docs that cite recipe keys; each key they cite must be one the schemas have (plugins.md
# describes a third-party package's keys too)
CITING = [REPO / "README.md", *sorted(p for p in (REPO / "docs").glob("*.md")
                                      if p.name != "plugins.md")]
NOT_KEYS = {"health.status", "health.alarms"}  # MLflow tags the health plugin sets
SECTIONS = ("method", "name", "data", "model", "train", "track", "metrics", "health", "output",
            "cam")


def all_keys(registry) -> set[str]:
    return {row[0] for p in parts(registry) for row in keys(p.schema, p.prefix, p.skip)}


def test_the_reference_is_what_make_docs_writes_now(tmp_path):
    out = tmp_path / "reference.md"
    assert main([str(out)]) == 0  # what `make docs` runs
    assert REFERENCE.read_text() == out.read_text(), (
        "docs/recipe_reference.md is stale: a schema changed; run `make docs` and commit it")


def test_every_shipped_key_and_schema_says_what_it_is():
    found = parts(shipped_registry())
    undocumented = [key for p in found for key, _, _, _, doc in keys(p.schema, p.prefix, p.skip)
                    if not doc]
    assert undocumented == [], "give these fields limit(..., doc=...)"
    nameless = [p.schema.__name__ for p in found if not class_doc(p.schema)]
    assert nameless == [], "give these schemas a docstring"


def test_rows_show_types_defaults_limits_and_nested_keys():
    text = REFERENCE.read_text()
    for row in [
        "| `train.batch_size` | int | `256` | >= 1 |",
        "| `train.precision` | str | `fp32` | one of fp32, bf16, fp16, auto |",
        "| `track.uri` | str or null | `null` |  |",
        "| `metrics.fid.feature` | str | `evaluator` | one of evaluator, inception |",
        "| `model.g_ema` | float | `0.0` | >= 0.0, < 1.0 |",
        "| `data.classes` | list of int | `[]` | >= 0, <= 9 |",
        "| `data.celeba.selected_attrs` | list of str |",
        "| `method` | str | (required) |",
        "| `cam.discriminator` | bool | `false` |",
    ]:
        assert row in text


@dataclass
class FakeModel:
    """The fake method's model."""

    depth: int = limit(3, ge=1, doc="layers")


@dataclass
class FakeData(DataConfig):
    """The fake dataset."""

    name: str = "fake_pixels"


@dataclass
class FakeSection:
    """The fake section."""

    strength: float = limit(0.5, doc="how strong")


@pytest.fixture
def third_party(monkeypatch):
    """A plugin from outside ganrun (GANRUN_PLUGINS) with a method, a dataset and a section."""
    module = types.ModuleType("outside_plugin")
    module.ganrun_register_methods = hookimpl(lambda: [MethodInfo("fakegan", FakeModel)])
    module.ganrun_register_datasets = hookimpl(
        lambda: [DatasetInfo("fake_pixels", FakeData, lambda cfg, split: None)])
    module.ganrun_register_sections = hookimpl(lambda: [SectionInfo("fakesec", FakeSection)])
    monkeypatch.setitem(sys.modules, "outside_plugin", module)
    monkeypatch.setenv("GANRUN_PLUGINS", "outside_plugin")


def test_a_third_party_plugin_is_left_out(third_party, registry):
    assert {"fakegan", "fake_pixels", "fakesec"} <= {*registry.methods, *registry.datasets,
                                                     *registry.sections}  # it is installed
    text = render(shipped_registry())
    assert "fakegan" not in text and "fake_pixels" not in text and "fakesec" not in text
    assert text == REFERENCE.read_text()


def test_the_docs_cite_only_keys_the_schemas_have():
    known = all_keys(shipped_registry()) | set(SECTIONS) | NOT_KEYS
    key = r"((?:%s)\.[A-Za-z_][\w.]*)" % "|".join(SECTIONS)
    cited = re.compile(rf"`(?:ganrun \S+ )?{key}|\b{key}=")  # `key ...` or key=VALUE
    unknown = {}
    for doc in CITING:
        for found in cited.findall(doc.read_text()):
            key = (found[0] or found[1]).rstrip(".")
            if key not in known and not any(k.startswith(key + ".") for k in known):
                unknown.setdefault(doc.name, []).append(key)
    assert unknown == {}
