"""Recipes: extends, overrides, and strict validation with the key path in every error."""
from __future__ import annotations

import pytest

from ganrun.errors import UserError
from ganrun.recipe import load_recipe, to_yaml
from tests.conftest import RECIPES


def test_quickstart_extends_the_tutorial_recipe(registry):
    r = load_recipe(RECIPES / "quickstart.yaml", registry=registry)
    assert r.name == "quickstart" and r.method == "dcgan"
    assert r.model.noise_dim == 100 and r.model.bn_momentum == 0.01 and r.model.tf_padding  # inherited
    assert (r.model.dropout, r.model.leaky_slope) == (0.0, 0.2)  # its own: the DCGAN paper's D
    assert r.model.lr_g == 4e-4 and r.model.betas == [0.5, 0.999] and r.model.g_ema == 0.999
    assert r.model.g_widths == [64, 32, 16] and r.train.batch_size == 16


def test_tutorial_recipe_holds_the_tutorial_settings(registry):
    r = load_recipe(RECIPES / "dcgan_mnist.yaml", registry=registry)
    m = r.model
    assert (r.train.epochs, r.train.batch_size, r.train.checkpoint_every) == (50, 256, 15)
    assert (m.lr_g, m.lr_d, m.betas, m.adam_eps) == (1e-4, 1e-4, [0.9, 0.999], 1e-7)
    assert (m.leaky_slope, m.bn_momentum, m.bn_eps, m.dropout) == (0.3, 0.01, 1e-3, 0.3)
    assert m.tf_padding and m.init == "glorot_uniform" and m.loss == "bce"


def test_overrides_win_and_are_typed(registry):
    r = load_recipe(RECIPES / "quickstart.yaml", ["train.epochs=3", "model.g_widths=[8,4,2]"],
                    registry=registry)
    assert r.train.epochs == 3 and r.model.g_widths == [8, 4, 2]


def test_resolved_recipe_round_trips(registry):
    from ganrun.recipe import from_yaml_text

    r = load_recipe(RECIPES / "quickstart.yaml", ["train.seed=7"], registry=registry)
    again = from_yaml_text(to_yaml(r), registry=registry, source="saved")
    assert again == r


@pytest.mark.parametrize("overrides, needle", [
    (["method=nogan"], "method: unknown method 'nogan'"),
    (["train.epoch=3"], "train.epoch"),
    (["train.epochs=abc"], "train.epochs"),
    (["train.batch_size=-4"], "train.batch_size: -4 must be >= 1"),
    (["model.dropout=2"], "model.dropout"),
    (["model.loss=squared"], "model.loss"),
    (["model.g_ema=1.0"], "model.g_ema: 1.0 must be < 1.0"),  # an `lt` limit is enforced too
    (["data.name=nodata"], "data.name: unknown dataset 'nodata'"),
    (["train.epochs"], "KEY=VALUE"),
])
def test_bad_values_name_their_key(registry, overrides, needle):
    with pytest.raises(UserError) as e:
        load_recipe(RECIPES / "quickstart.yaml", overrides, registry=registry)
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


def test_yaml_syntax_error_names_file_and_line(tmp_path, registry):
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: dcgan\ntrain:\n  epochs: [1, 2\n")
    with pytest.raises(UserError, match=r"bad.yaml: YAML syntax error at line \d+"):
        load_recipe(bad, registry=registry)


def test_missing_file_and_extends_loop(tmp_path, registry):
    with pytest.raises(UserError, match="nope.yaml: recipe file not found"):
        load_recipe(tmp_path / "nope.yaml", registry=registry)
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(UserError, match="loops back"):
        load_recipe(tmp_path / "a.yaml", registry=registry)


def test_a_misspelt_limit_is_refused_when_the_schema_is_defined():
    from ganrun.limits import limit

    with pytest.raises(TypeError, match="unknown limit 'max'"):
        limit(1, max=3)
