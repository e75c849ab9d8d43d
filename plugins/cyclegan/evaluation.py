"""Translation metrics, measured on the test split every ``metrics.every`` epochs.

The official implementation measures nothing while it trains. Here, for each direction
(A->B shown; B->A mirrors it) on the first ``metrics.samples`` test images:

* ``eval/class_kept_AB``: the class evaluator (``model.class_evaluator``) gives the
  translation the class of its source (the dataset's label where it has one, else the
  evaluator's reading of the source);
* ``eval/domain_AB``: the fraction of translations the domain evaluator
  (``model.domain_evaluator``: class 0 is domain A, 1 domain B) puts in the target domain;
* ``eval/cycle_l1_A``: mean |genBA(genAB(a)) - a|, the cycle error on unseen images.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

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

    def _predict(self, evaluator: nn.Module, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([evaluator.logits(x).argmax(1) for x in images.split(256)])

    def __call__(self, generators: dict[str, nn.Module]) -> dict[str, float]:
        out: dict[str, float] = {}
        for source, target, tag, forward, back, target_class in DIRECTIONS:
            real = self.images[source]
            fake = translate_batches(generators[forward], real)
            cycled = translate_batches(generators[back], fake)
            out[f"eval/cycle_l1_{source}"] = (cycled - real).abs().mean().item()
            if self.classes is not None:
                truth = self.images.get(f"label_{source}")
                if truth is None:
                    truth = self._predict(self.classes, real)
                kept = self._predict(self.classes, fake) == truth
                out[f"eval/class_kept_{tag}"] = kept.float().mean().item()
            if self.domains is not None:
                judged = self._predict(self.domains, fake) == target_class
                out[f"eval/domain_{tag}"] = judged.float().mean().item()
        return out
