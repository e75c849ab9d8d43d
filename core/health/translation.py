"""Translation-failure monitors, fed every evaluation of a method that translates images.

They read ``eval/*`` values a translation method's evaluation reports, each beside its
``real/*`` baseline: the same measure on the untranslated inputs. A name may carry a suffix
(a direction such as ``_AB`` / ``_BA``, or none), and ``eval/NAME<suffix>``
is judged against ``real/NAME<suffix>``, each suffix in its own episode. A method that does
not report a name is not judged on it. The names (docs/health.md, "Translation"):

* ``spread``: how much the outputs differ across inputs (RMS distance from their mean);
* ``domain`` or ``attr_acc``: the share of outputs the domain evaluator puts in the target;
* ``class_kept``: the share whose class (the digit) the class evaluator reads as the input's;
* ``cycle_l1``: the cycle error; its ``real/`` value is the error of a cycle that returns
  another input, the scale of "nothing of the source came back";
* ``class_spread``: the outputs' spread within each class; ``real/``: the target domain's.
"""
from __future__ import annotations

from typing import Iterator, Mapping

from ganrun.health.alarms import FAILED, MODE_COLLAPSE, TRANSLATION, WARNING
from ganrun.health.collapse import EvalMonitor

SPREAD, DOMAIN, ATTR_ACC = "spread", "domain", "attr_acc"
CLASS_KEPT, CYCLE, CLASS_SPREAD = "class_kept", "cycle_l1", "class_spread"


def suffixes(metrics: Mapping[str, float], name: str) -> Iterator[str]:
    """The suffixes under which ``eval/NAME`` is reported: ``""``, ``"_AB"``, ... in order."""
    prefix = f"eval/{name}"
    for key in sorted(metrics):
        if key == prefix or (key.startswith(prefix + "_")):
            yield key[len(prefix):]


class TranslationMonitor(EvalMonitor):
    """Base: pairs of ``eval/NAME<suffix>`` and ``real/NAME<suffix>``."""

    category = TRANSLATION

    def pairs(self, metrics: Mapping[str, float], reference: Mapping[str, float],
              name: str) -> Iterator[tuple[str, float, float]]:
        """``(suffix, eval value, real value)`` for each suffix that has both, finite."""
        for suffix in suffixes(metrics, name):
            value = self.value(metrics, f"eval/{name}{suffix}")
            real = self.value(reference, f"real/{name}{suffix}")
            if value is not None and real is not None:
                yield suffix, value, real


def _named(name: str, suffix: str) -> str:
    return f"{name}{suffix}"


class BelowBaseline(TranslationMonitor):
    """Base: ``eval/<metric><suffix>`` under ``config.<threshold>`` x its ``real/`` baseline,
    for one evaluation, raises ``severity`` with ``message``. A subclass only declares
    these and its docstring (the alarm's reference)."""

    metric: str  # the measure, e.g. "spread"
    threshold: str  # the HealthConfig field holding the minimum ratio
    severity: str = WARNING
    message: str  # the alarm's text; {metric} is the metric with its suffix
    baseline: str  # the evidence's name for the real/ value

    def judge(self, epoch, metrics, reference):
        threshold, alarms = getattr(self.config, self.threshold), []
        if threshold is None:
            return []
        for suffix, value, real in self.pairs(metrics, reference, self.metric):
            ratio = value / real if real > 0 else 1.0
            if self.episode(suffix, 1).update(ratio < threshold):
                alarms.append(self.alarm(
                    self.message.format(metric=_named(self.metric, suffix)), self.severity,
                    {self.metric: value, self.baseline: real, "ratio": ratio, "min": threshold},
                    epoch=epoch))
        return alarms


class InputIgnored(BelowBaseline):
    """The outputs barely differ across inputs: ``eval/spread`` under ``spread_ratio_min`` x
    the inputs' ``real/spread``: FAILED. The generator draws (nearly) one image whatever it
    is given, the translation counterpart of total mode collapse (Zhu et al. 2017, Sec. 3:
    the cycle loss exists to rule out mapping every input to one output)."""

    category = MODE_COLLAPSE
    metric, threshold, severity, baseline = SPREAD, "spread_ratio_min", FAILED, "input_spread"
    message = "input ignored: '{metric}' far below the inputs' spread"


class NothingTranslated(TranslationMonitor):
    """The domain evaluator's verdict on the outputs stays at the source's: the share put in
    the target domain (``eval/domain``, ``eval/attr_acc``) has moved less than
    ``translated_min`` of the way from the untranslated inputs' share (``real/...``) to 1:
    WARNING. Typically the generator returns its input (an identity term winning)."""

    def judge(self, epoch, metrics, reference):
        threshold, alarms = self.config.translated_min, []
        if threshold is None:
            return []
        for name in (DOMAIN, ATTR_ACC):
            for suffix, value, real in self.pairs(metrics, reference, name):
                if real >= 1.0:
                    continue  # the sources are judged in the target already: nothing to move
                moved = (value - real) / (1.0 - real)
                if self.episode((name, suffix), 1).update(moved < threshold):
                    alarms.append(self.alarm(
                        f"nothing translated: '{_named(name, suffix)}' stays at the "
                        f"source's", WARNING,
                        {name: value, "source": real, "moved": moved, "min": threshold},
                        epoch=epoch))
        return alarms


class ContentLost(BelowBaseline):
    """The class (the digit) is not kept: ``eval/class_kept`` under ``class_kept_ratio_min``
    x the class evaluator's accuracy on the untranslated inputs (``real/class_kept``):
    WARNING. The translation changed what the image shows, not only its domain; with a
    low cycle error this is the steganography of Chu et al. 2017 (the source hidden in
    the output, the content drawn anew)."""

    metric, threshold, baseline = CLASS_KEPT, "class_kept_ratio_min", "untranslated"
    message = "content lost: '{metric}' far below the untranslated inputs'"


class CycleWithoutTranslation(TranslationMonitor):
    """A low cycle error while the domain verdict is poor: ``eval/cycle_l1`` under
    ``cycle_ratio_max`` x ``real/cycle_l1`` (the error of returning another input) while
    ``eval/domain`` (or ``eval/attr_acc``) of the same suffix is under ``cycle_domain_max``:
    WARNING. The cycle is kept without translating: by returning the input, or by hiding it
    in signals the domain evaluator does not read as the target (Chu et al. 2017)."""

    def judge(self, epoch, metrics, reference):
        cfg, alarms = self.config, []
        if cfg.cycle_ratio_max is None:
            return []
        for suffix, cycle, real in self.pairs(metrics, reference, CYCLE):
            ratio = cycle / real if real > 0 else 1.0
            for name in (DOMAIN, ATTR_ACC):
                domain = self.value(metrics, f"eval/{name}{suffix}")
                if domain is None:
                    continue
                kept = ratio < cfg.cycle_ratio_max and domain < cfg.cycle_domain_max
                if self.episode((name, suffix), 1).update(kept):
                    alarms.append(self.alarm(
                        f"cycle without translation: '{_named(CYCLE, suffix)}' low while "
                        f"'{_named(name, suffix)}' is poor", WARNING,
                        {"cycle_l1": cycle, "ratio": ratio, "max": cfg.cycle_ratio_max,
                         name: domain, f"{name}_max": cfg.cycle_domain_max}, epoch=epoch))
        return alarms


class DomainCollapse(BelowBaseline):
    """Mode collapse within a domain: the outputs' spread within each class
    (``eval/class_spread``) under ``class_spread_ratio_min`` x the target domain's own
    (``real/class_spread``): WARNING. Every input of a class comes out (nearly) the same
    image, while the classes may still differ."""

    category = MODE_COLLAPSE
    metric, threshold, baseline = CLASS_SPREAD, "class_spread_ratio_min", "target_class_spread"
    message = "collapse within the target domain: '{metric}' far below the target's"
