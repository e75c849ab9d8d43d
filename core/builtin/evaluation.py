"""Built-in plugin: measures generated samples with the recipe's evaluator.

Every ``metrics.every`` epochs it draws ``metrics.samples_per_class`` samples of every
class from a fixed seed (``ganrun_sample``, so any conditional method qualifies) and logs
``eval/cond_acc``: the share the evaluator classifies as the class that was asked for.
"""
from __future__ import annotations

import torch

from ganrun import hookimpl
from ganrun.sampling import draw

EVAL_SEED = 12345  # the same samples' seeds at every evaluation: comparable across epochs

_evaluators: dict[int, torch.nn.Module] = {}


def _due(run, epoch: int) -> bool:
    m = run.recipe.metrics
    return bool(m.evaluator and m.every and (epoch % m.every == 0
                                             or epoch == run.recipe.train.epochs))


@hookimpl
def ganrun_run_start(run):
    name = run.recipe.metrics.evaluator
    if name:  # loaded once, at start: a missing weights file fails before any training
        _evaluators[id(run)] = run.registry.evaluator(name).load()


@hookimpl(tryfirst=True)  # before the plugins that read eval/* (health, trackers)
def ganrun_epoch_end(run, report):
    evaluator = _evaluators.get(id(run))
    if evaluator is None or not _due(run, report.epoch):
        return
    generator = next(iter(run.trainer.generators.values()))
    per_class = run.recipe.metrics.samples_per_class
    try:
        samples = draw(run.hook, run.recipe, generator, per_class, EVAL_SEED, None)
    finally:
        generator.train(True)
    if samples.labels is None:  # unconditional: no class was asked for
        return
    with torch.no_grad():
        predicted = evaluator.logits(samples.images.cpu()).argmax(dim=1)
    report.metrics["eval/cond_acc"] = (predicted == samples.labels.cpu()).float().mean().item()


@hookimpl
def ganrun_run_end(run, status, error):
    _evaluators.pop(id(run), None)

