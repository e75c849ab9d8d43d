"""Mode-collapse monitors, fed every evaluation (``observe_eval``) with ``eval/*`` metrics."""
from __future__ import annotations

import math
from typing import Mapping

from ganrun.health.alarms import FAILED, MODE_COLLAPSE, WARNING, Alarm
from ganrun.health.base import Monitor, Values, _finite
from ganrun.health.config import HealthConfig

MODES, CLASS_KL = "eval/modes", "eval/class_kl"
PRECISION, RECALL, COVERAGE = "eval/precision", "eval/recall", "eval/coverage"
FID, SSIM, REAL_SSIM = "eval/fid_lenet", "eval/ssim", "real/ssim"


class EvalMonitor(Monitor):
    category = MODE_COLLAPSE

    def __init__(self, config: HealthConfig):
        super().__init__(config)
        self.evaluations = 0

    def observe_eval(self, epoch: int, metrics: Mapping[str, float],
                     reference: Values = None) -> list[Alarm]:
        """Count the evaluation, then judge it once past ``eval_grace`` evaluations."""
        self.evaluations += 1
        self.track(metrics)
        if self.evaluations <= self.config.eval_grace:
            return []
        return self.judge(epoch, metrics, reference or {})

    def track(self, metrics: Mapping[str, float]) -> None:
        """Keep best values; called at every evaluation, the grace ones included."""

    def judge(self, epoch: int, metrics: Mapping[str, float],
              reference: Mapping[str, float]) -> list[Alarm]:
        raise NotImplementedError

    @staticmethod
    def value(metrics: Mapping[str, float], key: str) -> float | None:
        v = metrics.get(key)
        return float(v) if v is not None and _finite(v) else None


class CoverageFalling(EvalMonitor):
    """Classes lost (``eval/modes`` < ``modes_min``): FAILED; ``eval/coverage`` fallen to
    under ``1 - coverage_drop`` of its best (once the best reached ``coverage_floor``):
    WARNING."""

    def __init__(self, config: HealthConfig):
        super().__init__(config)
        self.best_modes: float | None = None
        self.best_coverage: float | None = None

    def track(self, metrics):
        modes, coverage = self.value(metrics, MODES), self.value(metrics, COVERAGE)
        if modes is not None:
            self.best_modes = max(self.best_modes or modes, modes)
        if coverage is not None:
            self.best_coverage = max(self.best_coverage or coverage, coverage)

    def judge(self, epoch, metrics, reference):
        cfg, alarms = self.config, []
        modes = self.value(metrics, MODES)
        if cfg.modes_min is not None and modes is not None:
            if self.episode("modes", 1).update(modes < cfg.modes_min):
                evidence = {"modes": modes, "min": cfg.modes_min, "best": self.best_modes}
                kl = self.value(metrics, CLASS_KL)
                if kl is not None:
                    evidence["class_kl"] = kl
                alarms.append(self.alarm("classes missing from the samples", FAILED,
                                         evidence, epoch=epoch))
        coverage = self.value(metrics, COVERAGE)
        if cfg.coverage_drop is not None and coverage is not None and self.best_coverage:
            limit = (1.0 - cfg.coverage_drop) * self.best_coverage
            falling = self.best_coverage >= cfg.coverage_floor and coverage < limit
            if self.episode("coverage", 1).update(falling):
                alarms.append(self.alarm("coverage fell from its best", WARNING,
                                         {"coverage": coverage, "best": self.best_coverage,
                                          "limit": limit}, epoch=epoch))
        return alarms

    def statistics(self):
        stats = {}
        if self.best_modes is not None:
            stats["modes_best"] = self.best_modes
        if self.best_coverage is not None:
            stats["coverage_best"] = self.best_coverage
        return stats


class LowDiversity(EvalMonitor):
    """Generated intra-class SSIM above the real data's by more than ``ssim_margin``: WARNING."""

    def judge(self, epoch, metrics, reference):
        margin, ssim = self.config.ssim_margin, self.value(metrics, SSIM)
        real = self.value(reference, REAL_SSIM)
        if margin is None or ssim is None or real is None:
            return []
        if self.episode(None, 1).update(ssim > real + margin):
            return [self.alarm("samples of a class alike (SSIM far above real data's)",
                               WARNING, {"ssim": ssim, "real_ssim": real, "margin": margin},
                               epoch=epoch)]
        return []


class PrecisionWithoutRecall(EvalMonitor):
    """Precision above ``precision_high`` while recall is below ``recall_low``: WARNING."""

    def judge(self, epoch, metrics, reference):
        cfg = self.config
        p, r = self.value(metrics, PRECISION), self.value(metrics, RECALL)
        if cfg.recall_low is None or p is None or r is None:
            return []
        if self.episode(None, 1).update(p > cfg.precision_high and r < cfg.recall_low):
            return [self.alarm("precision without recall: realistic samples of a few modes",
                               WARNING, {"precision": p, "recall": r,
                                         "precision_high": cfg.precision_high,
                                         "recall_low": cfg.recall_low}, epoch=epoch)]
        return []


class FIDRising(EvalMonitor):
    """FID risen at ``fid_rises`` consecutive evaluations and > ``fid_rise_frac`` above its
    best: WARNING."""

    def __init__(self, config: HealthConfig):
        super().__init__(config)
        self.best: float | None = None
        self.previous: float | None = None
        self.rises = 0

    def track(self, metrics):
        fid = self.value(metrics, FID)
        if fid is None:
            return
        if self.previous is not None:
            self.rises = self.rises + 1 if fid > self.previous else 0
        self.previous = fid
        self.best = fid if self.best is None else min(self.best, fid)

    def judge(self, epoch, metrics, reference):
        cfg, fid = self.config, self.value(metrics, FID)
        if cfg.fid_rises is None or fid is None or self.best is None:
            return []
        rising = self.rises >= cfg.fid_rises and fid > self.best * (1.0 + cfg.fid_rise_frac)
        if self.episode(None, 1).update(rising):
            return [self.alarm("FID rising", WARNING,
                               {"fid": fid, "best": self.best, "rises": self.rises,
                                "above_best": fid / self.best - 1.0 if self.best else math.inf},
                               epoch=epoch)]
        return []

    def statistics(self):
        return {"fid_best": self.best, "fid_rises": self.rises} if self.best is not None else {}
