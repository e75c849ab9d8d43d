"""StarGAN's measurements on the test split, every ``metrics.every`` epochs, in the spirit of
the paper's classification protocol (Sec. 5.5: a classifier trained on the real domains
judges the translations).

Each of the first ``metrics.samples`` test images of every dataset is translated to every
target of the grid (each attribute or class of every label set, :meth:`LabelLayout.column_targets`),
and:

* ``eval/attr_acc``: the share of translations whose targeted attributes the label set's
  evaluator (``model.attribute_evaluators``, one per label set) reads as asked: the flipped
  attribute, or an exclusive group's chosen member with the rest of its group off, or the
  class; ``eval/attr_acc_<set>`` per target label set;
* ``eval/class_kept``: the share of translations whose content class the class evaluator
  (``model.class_evaluator``) reads as the source's (``digits`` of the test set), where the
  test set has them;
* ``eval/spread``: how much the translations to one target differ across inputs (RMS
  distance from their mean image, :func:`ganrun.metrics.spread.spread`), averaged over the
  targets.

Beside each, its ``real/`` baseline on the untranslated inputs, which the translation health
monitors compare it with (docs/health.md): ``real/attr_acc`` (``_<set>``), the share of the
inputs already reading as the target; ``real/class_kept``, the class evaluator's accuracy on
the inputs; ``real/spread``, the inputs' spread. They do not change during a run: measured
at the first evaluation, then reported again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganrun.metrics.spread import spread
from ganrun_plugins.stargan.labels import LabelLayout


@dataclass
class TestImages:
    """The first test images of one dataset, their labels and content classes (or None)."""

    images: torch.Tensor
    labels: torch.Tensor
    digits: torch.Tensor | None


def first_test_images(dataset: Any, n: int) -> list[TestImages]:
    """Up to ``n`` test images of each dataset of ``dataset`` (the parts of a joint one)."""
    out = []
    for part in getattr(dataset, "parts", None) or [dataset]:
        idx = list(range(min(n, len(part))))
        items = part.__getitems__(idx) if hasattr(part, "__getitems__") else \
            {k: torch.stack([part[i][k] for i in idx]) for k in ("image", "label")}
        digits = getattr(part, "digits", None)
        out.append(TestImages(items["image"], items["label"],
                              None if digits is None else torch.as_tensor(digits)[idx]))
    return out


BATCH = 250  # images per forward pass


def _in_batches(fn, x: torch.Tensor) -> torch.Tensor:
    return torch.cat([fn(part) for part in x.split(BATCH)])


def translate(G: nn.Module, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """G(x, c) in batches of ``BATCH`` (no gradients: the caller holds ``no_grad``)."""
    return torch.cat([G(xb, cb) for xb, cb in zip(x.split(BATCH), c.split(BATCH))])


class DomainMetrics:
    """Translate the kept test images to every target; ask the evaluators."""

    def __init__(self, tests: list[TestImages], layout: LabelLayout,
                 attribute_evaluators: list[nn.Module | None], class_evaluator: nn.Module | None):
        self.tests, self.layout = tests, layout
        self.judges, self.classes = attribute_evaluators, class_evaluator
        self.reference: dict[str, float] | None = None  # real/ baselines, at the first call

    def hits(self, m: int, i: int, target: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """Per image: does set ``m``'s evaluator read column ``i``'s targeted labels in ``fake``?"""
        logits = _in_batches(self.judges[m].logits, fake)
        s = self.layout.sets[m]
        if not s.multi:
            return logits.argmax(1).cpu() == i
        checked = list(self.layout.changed(m, i))
        return ((logits[:, checked] > 0).float().cpu() == target[:, checked].cpu()).all(1)

    @torch.no_grad()
    def __call__(self, G: nn.Module) -> dict[str, float]:
        was_training = G.training
        G.eval()
        device = next(G.parameters()).device
        measured, baseline = _Tally(), _Tally() if self.reference is None else None
        try:
            for k, test in enumerate(self.tests):
                x = test.images.to(device)
                for m in range(len(self.layout.sets)):
                    own = test.labels if m == k else self.layout.blank(m, len(x))
                    for i, target in enumerate(self.layout.column_targets(m, own)):
                        c = self.layout.encode(m, target).to(device)
                        fake = translate(G, x, c)
                        self._measure(measured, k, m, i, target, fake)
                        if baseline is not None:  # the same, on the untranslated inputs
                            self._measure(baseline, k, m, i, target, x)
        finally:
            G.train(was_training)
        if baseline is not None:
            self.reference = {k.replace("eval/", "real/"): v
                              for k, v in self._summarise(baseline).items()}
        return {**self._summarise(measured), **self.reference}

    def _measure(self, tally: "_Tally", k: int, m: int, i: int, target: torch.Tensor,
                 images: torch.Tensor) -> None:
        """Judge ``images`` as translations of test set ``k`` to column ``i`` of set ``m``."""
        if self.judges[m] is not None:
            tally.hits.setdefault(m, []).append(self.hits(m, i, target, images))
        test = self.tests[k]
        if self.classes is not None and test.digits is not None:
            read = _in_batches(self.classes.logits, images).argmax(1).cpu()
            tally.kept.append(read == test.digits)
        tally.spreads.append(spread(images))

    def _summarise(self, tally: "_Tally") -> dict[str, float]:
        metrics = {}
        if tally.hits:
            every = torch.cat([torch.cat(v) for v in tally.hits.values()])
            metrics["eval/attr_acc"] = every.float().mean().item()
            for m, v in tally.hits.items():
                metrics[f"eval/attr_acc_{self.layout.sets[m].dataset}"] = \
                    torch.cat(v).float().mean().item()
        if tally.kept:
            metrics["eval/class_kept"] = torch.cat(tally.kept).float().mean().item()
        if tally.spreads:
            metrics["eval/spread"] = sum(tally.spreads) / len(tally.spreads)
        return metrics


@dataclass
class _Tally:
    """What one pass over the targets collects: hits per label set, classes kept, spreads."""

    hits: dict[int, list[torch.Tensor]] = field(default_factory=dict)
    kept: list[torch.Tensor] = field(default_factory=list)
    spreads: list[float] = field(default_factory=list)
