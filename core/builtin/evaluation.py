"""Built-in plugin: measures generated samples every ``metrics.every`` epochs.

At run start it loads the recipe's evaluator and measures the real training images once;
each metric (``metrics.names``, default all registered) caches its real statistics then.
With ``metrics.fid.feature: inception`` it first loads the FID Inception-v3 weights
(``metrics.fid.weights``), failing the run before any step with a one-line error when they
are missing, and adds ``fid_inception`` (``eval/fid``); without an evaluator that is the
only metric.
At an evaluation it draws ``metrics.samples`` samples from a fixed seed through
``ganrun_sample`` (a conditional method: the same number of every class), measures them
once, and adds every metric's ``eval/*`` values and ``time/eval_seconds`` to the epoch's
report, before the health monitors and the trackers read it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

from ganrun import hookimpl
from ganrun.errors import UserError
from ganrun.sampling import draw

EVAL_SEED = 12345  # the same samples' seeds at every evaluation: comparable across epochs
INCEPTION_METRIC = "fid_inception"  # standard FID: on only with metrics.fid.feature: inception


@dataclass
class _Evaluation:
    evaluator: Any
    metrics: list[Callable[[Any], dict[str, float]]]
    setup_seconds: float  # measuring the real data once, reported with the first evaluation


_runs: dict[int, _Evaluation] = {}


@dataclass
class _Images:
    """Images without an evaluator's measurements: all that standard FID reads."""

    images: Any
    labels: Any


def _measure(evaluator, images, labels):
    from ganrun.metrics.samples import MeasuredSet

    if evaluator is None:
        return _Images(images.detach().cpu().float(), None if labels is None else labels.cpu())
    return MeasuredSet.measure(evaluator, images, labels)


def _metric_names(run) -> list[str]:
    """The metrics to compute; ``fid_inception`` only with ``metrics.fid.feature: inception``."""
    cfg = run.recipe.metrics
    inception = cfg.fid.feature == "inception"
    if cfg.names:
        names = list(cfg.names)
        if inception and INCEPTION_METRIC not in names:
            raise UserError(f"metrics.fid.feature: inception, but metrics.names leaves out "
                            f"{INCEPTION_METRIC}; add it, or leave metrics.names empty")
        if not inception and INCEPTION_METRIC in names:
            raise UserError(f"metrics.names: {INCEPTION_METRIC} needs metrics.fid.feature: "
                            f"inception")
    elif cfg.evaluator:
        names = [n for n in sorted(run.registry.metrics) if inception or n != INCEPTION_METRIC]
    else:
        names = [INCEPTION_METRIC]
    if not cfg.evaluator:
        others = [n for n in names if n != INCEPTION_METRIC]
        if others:
            raise UserError(f"metrics.names: metric '{others[0]}' needs metrics.evaluator")
    return names


@hookimpl(tryfirst=True)  # a missing Inception file fails the run before trackers start it
def ganrun_run_start(run):
    cfg = run.recipe.metrics
    if not cfg.every or not (cfg.evaluator or cfg.fid.feature == "inception"):
        return
    started = time.perf_counter()
    names = _metric_names(run)
    extra: dict[str, dict[str, Any]] = {}
    if INCEPTION_METRIC in names:
        from ganrun.metrics.inception import load_fid_inception

        network = load_fid_inception(cfg.fid.weights).to(run.trainer.device)
        extra[INCEPTION_METRIC] = {"network": network}
    evaluator = run.registry.evaluator(cfg.evaluator).load() if cfg.evaluator else None
    if evaluator is not None:  # oneDNN's fastest layout on a CPU; the measurements take NHWC
        evaluator = evaluator.to(run.trainer.device, memory_format=torch.channels_last)
    dataset = run.loader.dataset
    if not hasattr(dataset, "images"):
        raise UserError(f"metrics.evaluator: dataset '{run.recipe.data.name}' does not hold "
                        f"its images in memory; set metrics.every=0")
    real = _measure(evaluator, dataset.images, getattr(dataset, "labels", None))
    metrics = [run.registry.metric(name).make(evaluator, real, **extra.get(name, {}))
               for name in names]
    _runs[id(run)] = _Evaluation(evaluator, metrics, time.perf_counter() - started)


@hookimpl(tryfirst=True)  # before the plugins that read eval/* (health, trackers)
def ganrun_epoch_end(run, report):
    evaluation = _runs.get(id(run))
    if evaluation is None or not run.recipe.metrics.due(report.epoch, run.recipe.train.epochs):
        return
    started = time.perf_counter()
    generator = next(iter(run.trainer.exports().values()))  # the generator a user receives
    classes = getattr(run.recipe.model, "num_classes", None)
    n = run.recipe.metrics.samples
    was_training = generator.training
    try:
        samples = draw(run.hook, run.recipe, generator, n // classes if classes else n,
                       EVAL_SEED, None)
    finally:
        generator.train(was_training)
    fake = _measure(evaluation.evaluator, samples.images, samples.labels)
    for metric in evaluation.metrics:
        report.metrics.update(metric(fake))
    report.metrics["time/eval_seconds"] = time.perf_counter() - started
    if evaluation.setup_seconds:
        report.metrics["time/eval_setup_seconds"] = evaluation.setup_seconds
        evaluation.setup_seconds = 0.0


@hookimpl
def ganrun_run_end(run, status, error):
    _runs.pop(id(run), None)
