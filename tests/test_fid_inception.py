"""Standard FID: pytorch-fid's Inception-v3 in plain torch, its weights loader, the setting.

Offline there are no real weights: the network is checked on random weights saved and
loaded back through the loader, which must read pytorch-fid's published file as it is.
"""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from ganrun.cli import main
from ganrun.errors import UserError
from ganrun.metrics import inception as inception_module
from ganrun.metrics.features import EvaluatorFeatures
from ganrun.metrics.inception import FIDInception, FIDInceptionV3, load_fid_inception

# torchvision's Inception3 (1000 classes, aux head): 27,161,264 parameters (its weights'
# "num_params"); less the aux head (3,326,696), plus 8 more classes in fc (16,392).
FID_INCEPTION_PARAMS = 23_850_960


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Random weights that keep activations O(1) through the 94 layers, saved as a state dict."""
    torch.manual_seed(0)
    net = FIDInceptionV3()
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    path = tmp_path_factory.mktemp("inception") / "pt_inception.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def net(weights):
    return load_fid_inception(str(weights))


def test_layout_matches_pytorch_fid():
    keys = FIDInceptionV3().state_dict()
    assert keys["fc.weight"].shape == (1008, 2048) and keys["fc.bias"].shape == (1008,)
    assert {"Conv2d_1a_3x3.conv.weight", "Mixed_5b.branch1x1.conv.weight",
            "Mixed_7c.branch3x3dbl_3b.conv.weight", "Mixed_7c.branch_pool.bn.running_var",
            "Mixed_6e.branch7x7dbl_5.bn.bias"} <= set(keys)
    assert not any(k.startswith("AuxLogits") for k in keys)
    assert sum(p.numel() for p in FIDInceptionV3().parameters()) == FID_INCEPTION_PARAMS


def test_loaded_strictly_and_frozen(weights, net):
    saved = torch.load(weights, weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in net.state_dict().items())  # copied, no arithmetic
    assert not net.training and not any(p.requires_grad for p in net.parameters())


def test_gray_and_rgb_give_2048_features(net):
    gray = torch.rand(2, 1, 28, 28) * 2 - 1
    rgb = torch.rand(2, 3, 64, 64) * 2 - 1
    for images in (gray, rgb):
        f = EvaluatorFeatures(net, torch.float64)(images)
        assert f.shape == (2, 2048) and f.dtype == torch.float64 and torch.isfinite(f).all()
    assert f.std() > 1e-3  # not dead: the features move with the images
    with pytest.raises(ValueError, match="1 or 3"):
        net(torch.zeros(2, 2, 28, 28))


def test_fid_of_identical_sets_is_zero(net, monkeypatch):
    monkeypatch.setattr(FIDInceptionV3, "size", 75)  # the smallest input: same graph, cheaper
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    fid = FIDInception(net).set_real(images)
    features = EvaluatorFeatures(net, torch.float64)(images)
    spread = float(((features - features.mean(0)) ** 2).sum())  # the covariance's trace
    assert spread > 1e-3 and abs(fid.score(images.clone())) < 1e-4 * spread


def _one_line(err: UserError) -> str:
    text = str(err)
    assert "\n" not in text
    return text


def test_missing_weights_is_one_line_naming_the_setting(tmp_path, monkeypatch):
    with pytest.raises(UserError) as e:
        load_fid_inception(str(tmp_path / "none.pth"))
    assert _one_line(e.value).startswith("metrics.fid.weights: weights file ")
    assert "not found" in str(e.value) and "pt_inception-2015-12-05-6726825d.pth" in str(e.value)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(UserError) as e:
        load_fid_inception(None)  # the recipe gives no path: torch.hub's cache
    assert _one_line(e.value).startswith("metrics.fid.feature: weights file ")
    assert str(tmp_path / "hub" / "checkpoints") in str(e.value)


def test_wrong_or_unreadable_file_is_one_line_naming_the_key(weights, tmp_path):
    state = torch.load(weights, weights_only=True)
    state["Mixed_5b.branch1x1.conv.wieght"] = state.pop("Mixed_5b.branch1x1.conv.weight")
    torch.save(state, tmp_path / "renamed.pth")
    with pytest.raises(UserError) as e:
        load_fid_inception(str(tmp_path / "renamed.pth"))
    assert _one_line(e.value).startswith("metrics.fid.weights: ")
    assert "unexpected key 'Mixed_5b.branch1x1.conv.wieght'" in str(e.value)
    torch.save({"fc.weight": torch.zeros(1008, 2048)}, tmp_path / "part.pth")
    with pytest.raises(UserError, match="missing key 'Conv2d_1a_3x3.conv.weight'"):
        load_fid_inception(str(tmp_path / "part.pth"))
    state["Mixed_5b.branch1x1.conv.weight"] = state.pop("Mixed_5b.branch1x1.conv.wieght")
    state["fc.weight"] = torch.zeros(1000, 2048)  # torchvision's 1000 ImageNet classes
    torch.save(state, tmp_path / "other.pth")
    with pytest.raises(UserError, match=r"key 'fc\.weight' has shape \(1000, 2048\)"):
        load_fid_inception(str(tmp_path / "other.pth"))
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(UserError, match=r"metrics\.fid\.weights: cannot read .*junk\.pth"):
        load_fid_inception(str(tmp_path / "junk.pth"))


def test_cli_without_weights_exits_2_before_training(tiny_recipe, workdir, capsys):
    assert main([str(tiny_recipe(epochs=1)), "metrics.every=1", "metrics.evaluator=lenet_mnist",
                 "metrics.fid.feature=inception", "metrics.fid.weights=/nonexistent"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err  # one line: nothing trained, so no run report
    assert err[0].startswith("ganrun: error: metrics.fid.weights: weights file /nonexistent")
    assert not (workdir / "mlruns").exists()


def test_cli_refuses_a_bad_feature_name(tiny_recipe, capsys):
    assert main([str(tiny_recipe()), "metrics.fid.feature=inceptionv3"]) == 2
    assert "metrics.fid.feature: 'inceptionv3' must be one of evaluator, inception" in \
        capsys.readouterr().err


def _names(feature="evaluator", evaluator="lenet_mnist", names=()):
    from types import SimpleNamespace as NS

    from ganrun.builtin.evaluation import _metric_names

    fid = NS(feature=feature, weights=None)
    metrics = NS(every=1, evaluator=evaluator, names=list(names), fid=fid)
    return _metric_names(NS(recipe=NS(metrics=metrics),
                            registry=NS(metrics={"fid_lenet": 0, "fid_inception": 0, "kid": 0})))


def test_fid_inception_is_on_only_with_feature_inception():
    assert _names() == ["fid_lenet", "kid"]
    assert _names("inception") == ["fid_inception", "fid_lenet", "kid"]
    assert _names("inception", None) == ["fid_inception"]  # no evaluator: standard FID alone
    with pytest.raises(UserError, match="metrics.names: fid_inception needs metrics.fid.feature"):
        _names(names=["fid_inception"])
    with pytest.raises(UserError, match="metrics.fid.feature: inception, but metrics.names"):
        _names("inception", names=["kid"])
    with pytest.raises(UserError, match="metrics.names: metric 'kid' needs metrics.evaluator"):
        _names("inception", None, names=["fid_inception", "kid"])


class _Pooled(nn.Module):
    """A stand-in for the Inception in the run test: 4 x 4 average-pooled pixels."""

    num_features = 16

    def forward(self, x):
        return nn.functional.adaptive_avg_pool2d(x.mean(1, keepdim=True), 4).flatten(1)

    features = forward  # the interface FIDInceptionV3 offers


def test_a_run_without_evaluator_logs_standard_fid(tiny_recipe, workdir, monkeypatch):
    loaded = []
    monkeypatch.setattr(inception_module, "load_fid_inception",
                        lambda path: loaded.append(path) or _Pooled())
    assert main([str(tiny_recipe(epochs=1)), "metrics.every=1", "metrics.samples=20",
                 "metrics.evaluator=null", "metrics.fid.feature=inception",
                 "metrics.fid.weights=w.pth", "track.enabled=false",
                 "--summary-json", "s.json"]) == 0
    metrics = json.loads((workdir / "s.json").read_text())["metrics"]
    assert {k for k in metrics if k.startswith("eval/")} == {"eval/fid"} and metrics["eval/fid"] > 0
    assert loaded == ["w.pth"]
