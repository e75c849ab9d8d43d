"""Sample-quality metrics inside a run: every registered metric, or the ones named."""
from __future__ import annotations

import json

from ganrun.cli import main

ALL = {"eval/fid_lenet", "eval/kid", "eval/kid_std", "eval/modes", "eval/class_kl",
       "eval/precision", "eval/recall", "eval/density", "eval/coverage", "eval/ndb",
       "eval/ssim", "real/ssim", "eval/confident", "real/confident", "time/eval_seconds"}


def test_every_metric_is_logged_at_an_evaluation(tiny_recipe, workdir, capsys):
    assert main([str(tiny_recipe(epochs=1)), "metrics.every=1", "metrics.samples=40",
                 "--summary-json", "s.json"]) == 0
    metrics = json.loads((workdir / "s.json").read_text())["metrics"]
    assert ALL <= set(metrics) and "eval/cond_acc" not in metrics  # unconditional
    assert 0 <= metrics["eval/modes"] <= 10 and metrics["eval/fid_lenet"] > 0
    assert 0 <= metrics["eval/coverage"] <= 1 and 0 < metrics["real/ssim"] < 1
    assert 0 <= metrics["eval/confident"] <= 1 and 0.9 < metrics["real/confident"] <= 1
    report = next(line for line in capsys.readouterr().out.splitlines()
                  if line.startswith("  last evaluation: "))
    assert f"fid_lenet {metrics['eval/fid_lenet']:.4g}" in report
    assert f"confident {metrics['eval/confident']:.4g}" in report and "real/confident" in report


def test_only_the_named_metrics(tiny_recipe, workdir):
    assert main([str(tiny_recipe(epochs=1)), "metrics.every=1", "metrics.samples=20",
                 "metrics.names=[fid_lenet]", "--summary-json", "s.json"]) == 0
    metrics = json.loads((workdir / "s.json").read_text())["metrics"]
    assert {k for k in metrics if k.startswith("eval/")} == {"eval/fid_lenet"}


def test_an_unknown_metric_is_refused(tiny_recipe, capsys):
    assert main([str(tiny_recipe()), "metrics.names=[fid]"]) == 2
    assert "metrics.names: unknown metric 'fid'" in capsys.readouterr().err
