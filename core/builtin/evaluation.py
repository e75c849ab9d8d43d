"""Built-in plugin: measures generated samples every ``metrics.every`` epochs.

At run start it loads the recipe's evaluator and measures the real training images once;
each metric (``metrics.names``, default all registered) caches its real statistics then.
At an evaluation it draws ``metrics.samples`` samples from a fixed seed through
``ganrun_sample`` (a conditional method: the same number of every class), measures them
once, and adds every metric's ``eval/*`` values and ``time/eval_seconds`` to the epoch's
report, before the health monitors and the trackers read it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from ganrun import hookimpl
from ganrun.errors import UserError
from ganrun.sampling import draw

EVAL_SEED = 12345  # the same samples' seeds at every evaluation: comparable across epochs


@dataclass
class _Evaluation:
    evaluator: Any
    metrics: list[Callable[[Any], dict[str, float]]]
    setup_seconds: float  # measuring the real data once, reported with the first evaluation


_runs: dict[int, _Evaluation] = {}


def _due(run, epoch: int) -> bool:
    every = run.recipe.metrics.every
    return bool(every) and (epoch % every == 0 or epoch == run.recipe.train.epochs)


@hookimpl
def ganrun_run_start(run):
    from ganrun.metrics.samples import MeasuredSet

    cfg = run.recipe.metrics
    if not cfg.evaluator or not cfg.every:
        return
    started = time.perf_counter()
    evaluator = run.registry.evaluator(cfg.evaluator).load()
    dataset = run.loader.dataset
    if not hasattr(dataset, "images"):
        raise UserError(f"metrics.evaluator: dataset '{run.recipe.data.name}' does not hold "
                        f"its images in memory; set metrics.every=0")
    real = MeasuredSet.measure(evaluator, dataset.images, getattr(dataset, "labels", None))
    names = cfg.names or sorted(run.registry.metrics)
    metrics = [run.registry.metric(name).make(evaluator, real) for name in names]
    _runs[id(run)] = _Evaluation(evaluator, metrics, time.perf_counter() - started)


@hookimpl(tryfirst=True)  # before the plugins that read eval/* (health, trackers)
def ganrun_epoch_end(run, report):
    from ganrun.metrics.samples import MeasuredSet

    evaluation = _runs.get(id(run))
    if evaluation is None or not _due(run, report.epoch):
        return
    started = time.perf_counter()
    generator = next(iter(run.trainer.generators.values()))
    classes = getattr(run.recipe.model, "num_classes", None)
    n = run.recipe.metrics.samples
    try:
        samples = draw(run.hook, run.recipe, generator, n // classes if classes else n,
                       EVAL_SEED, None)
    finally:
        generator.train(True)
    fake = MeasuredSet.measure(evaluation.evaluator, samples.images, samples.labels)
    for metric in evaluation.metrics:
        report.metrics.update(metric(fake))
    report.metrics["time/eval_seconds"] = time.perf_counter() - started
    if evaluation.setup_seconds:
        report.metrics["time/eval_setup_seconds"] = evaluation.setup_seconds
        evaluation.setup_seconds = 0.0


@hookimpl
def ganrun_run_end(run, status, error):
    _runs.pop(id(run), None)
