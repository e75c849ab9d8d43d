"""Translation metrics, measured on the test split every ``metrics.every`` epochs.

The official implementation measures nothing while it trains. Here, for each direction
(A->B shown; B->A mirrors it) on the first ``metrics.samples`` test images, each ``eval/``
value beside its ``real/`` baseline, the same measure on the untranslated inputs (the names
the translation health monitors read, docs/health.md):

* ``eval/cycle_l1_AB``: mean |genBA(genAB(a)) - a|, the cycle error on unseen images;
  ``real/cycle_l1_AB``: mean |a - a'| between different inputs, the error of a cycle that
  returns another image;
* ``eval/spread_AB``: how much the translations vary across inputs (RMS distance from their
  mean image, :func:`ganrun.metrics.spread.spread`); ``real/spread_AB``: the inputs' spread;
* ``eval/class_kept_AB``: the class evaluator (``model.class_evaluator``) gives the
  translation the class of its source (the dataset's label where it has one, else the
  evaluator's reading of the source); ``real/class_kept_AB``: its accuracy on the sources;
* ``eval/domain_AB``: the fraction of translations the domain evaluator
  (``model.domain_evaluator``: class 0 is domain A, 1 domain B) puts in the target domain;
  ``real/domain_AB``: the fraction of the untranslated sources it puts there;
* ``eval/class_spread_AB``: the spread of the translations within each source class,
  averaged over the classes; ``real/class_spread_AB``: the same of the target domain's own
  test images (B's), where classes are known (labels, or the class evaluator's reading).

The ``real/`` values do not change during a run: measured once, reported at every
evaluation. The whole costs two generator passes and, per evaluator, one pass over the
translations.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganrun.metrics.spread import class_spread, spread

DIRECTIONS = (("A", "B", "AB", "genAB", "genBA", 1), ("B", "A", "BA", "genBA", "genAB", 0))


def translate_batches(net: nn.Module, images: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """``net`` applied in eval mode and without gradients, ``batch`` images at a time."""
    was_training = net.training
    net.eval()
    device = next(net.parameters()).device
    try:
        with torch.no_grad():
            return torch.cat([net(x.to(device)).cpu() for x in images.split(batch)])
    finally:
        net.train(was_training)


def first_test_images(dataset: Any, n: int) -> dict[str, torch.Tensor]:
    """The first ``n`` test images of each domain (and their labels, if the items have them)."""
    items = [dataset[i] for i in range(min(n, len(dataset)))]
    return {k: torch.stack([item[k] for item in items]) for k in items[0]}


class TranslationMetrics:
    """Holds the test images and the evaluators of one run; ``__call__`` measures."""

    def __init__(self, images: dict[str, torch.Tensor], class_evaluator: nn.Module | None,
                 domain_evaluator: nn.Module | None):
        self.images = images
        self.classes, self.domains = class_evaluator, domain_evaluator
        self.truth = {d: self._classes_of(d) for d in ("A", "B")}
        self.reference = self._reference()

    def _predict(self, evaluator: nn.Module, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([evaluator.logits(x).argmax(1) for x in images.split(256)])

    def _classes_of(self, domain: str) -> torch.Tensor | None:
        """The classes of a domain's test images: their labels, else the class evaluator's."""
        labels = self.images.get(f"label_{domain}")
        if labels is None and self.classes is not None:
            labels = self._predict(self.classes, self.images[domain])
        return labels

    def _reference(self) -> dict[str, float]:
        """The ``real/`` baselines, once: the same measures on untranslated images."""
        out: dict[str, float] = {}
        for source, target, tag, _, _, target_class in DIRECTIONS:
            real = self.images[source]
            out[f"real/cycle_l1_{tag}"] = (real - real.roll(1, 0)).abs().mean().item()
            out[f"real/spread_{tag}"] = spread(real)
            if self.classes is not None:
                read = self._predict(self.classes, real) == self.truth[source]
                out[f"real/class_kept_{tag}"] = read.float().mean().item()
            if self.domains is not None:
                judged = self._predict(self.domains, real) == target_class
                out[f"real/domain_{tag}"] = judged.float().mean().item()
            if self.truth[target] is not None:
                within = class_spread(self.images[target], self.truth[target])
                if within is not None:
                    out[f"real/class_spread_{tag}"] = within
        return out

    def __call__(self, generators: dict[str, nn.Module]) -> dict[str, float]:
        out: dict[str, float] = dict(self.reference)
        for source, target, tag, forward, back, target_class in DIRECTIONS:
            real, truth = self.images[source], self.truth[source]
            fake = translate_batches(generators[forward], real)
            cycled = translate_batches(generators[back], fake)
            out[f"eval/cycle_l1_{tag}"] = (cycled - real).abs().mean().item()
            out[f"eval/spread_{tag}"] = spread(fake)
            if truth is not None:
                within = class_spread(fake, truth)
                if within is not None:
                    out[f"eval/class_spread_{tag}"] = within
            if self.classes is not None:
                kept = self._predict(self.classes, fake) == truth
                out[f"eval/class_kept_{tag}"] = kept.float().mean().item()
            if self.domains is not None:
                judged = self._predict(self.domains, fake) == target_class
                out[f"eval/domain_{tag}"] = judged.float().mean().item()
        return out
