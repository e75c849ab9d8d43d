"""Convergence-failure monitors, fed every training step (``observe_step``)."""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from ganrun.health.alarms import FAILED, WARNING, Alarm
from ganrun.health.base import Monitor, Values, Window, _finite
from ganrun.health.config import HealthConfig



class StepMonitor(Monitor):
    def observe_step(self, step: int, losses: Mapping[str, float], grad_norms: Values = None,
                     scores: Values = None, param_change: Values = None) -> list[Alarm]:
        raise NotImplementedError


class NonFinite(StepMonitor):
    """NaN or inf in any loss, gradient norm, D score or parameter change: FAILED at once.

    One alarm per episode for the whole monitor (all non-finite signals of the step are
    named in it); the episode ends after a whole window of finite steps.
    """

    def __init__(self, config: HealthConfig):
        super().__init__(config)
        self.last_finite: dict[str, tuple[int, float]] = {}

    def observe_step(self, step, losses, grad_norms=None, scores=None, param_change=None):
        bad: list[str] = []
        evidence: dict[str, float] = {}
        groups = (("loss", losses), ("grad norm", grad_norms), ("score", scores),
                  ("param change", param_change))
        for kind, values in groups:
            for key, value in (values or {}).items():
                ident = f"{kind} '{key}'"
                if _finite(value):
                    self.last_finite[ident] = (step, float(value))
                    continue
                v = float(value)
                bad.append(f"{ident} is {'NaN' if math.isnan(v) else ('inf' if v > 0 else '-inf')}")
                if ident in self.last_finite:
                    last_step, last_value = self.last_finite[ident]
                    tag = f"{kind.replace(' ', '_')}/{key}"
                    evidence[f"last_finite_{tag}"] = last_value
                    evidence[f"last_finite_{tag}_step"] = last_step
        if self.episode(None, self.config.window).update(bool(bad)):
            return [self.alarm(", ".join(bad), FAILED, evidence, step=step)]
        return []


class DiscriminatorWins(StepMonitor):
    """D's loss (``disc_key``) near zero as the median of a whole window: FAILED.

    The median, not the mean: a D that wins on nearly every step is still winning when a
    few steps spike (measured: a diverging run at lr 5e-2 had a median D loss of 0 from step
    100, but single steps of ~450 kept the window's mean above 0.05 until step 710).
    """

    def __init__(self, config: HealthConfig):
        super().__init__(config)
        self.window = Window(config.window)

    def observe_step(self, step, losses, grad_norms=None, scores=None, param_change=None):
        threshold = self.config.disc_loss_min
        value = losses.get(self.config.disc_key)
        if threshold is None or value is None or not _finite(value):
            return []
        self.window.add(value)
        if not self.window.full:
            return []
        median = self.window.median()
        if self.episode(None, self.config.window).update(median < threshold):
            return [self.alarm(f"discriminator wins: loss '{self.config.disc_key}' near zero",
                               FAILED, {"median": median, "mean": self.window.mean(),
                                        "threshold": threshold, "window": len(self.window)},
                               step=step)]
        return []

    def statistics(self):
        if not len(self.window):
            return {}
        return {"disc_mean": self.window.mean(), "disc_median": self.window.median()}


class SaturatedScores(StepMonitor):
    """Mean D(x) near 1 and mean D(G(z)) near 0 over a whole window: WARNING."""

    def __init__(self, config: HealthConfig):
        super().__init__(config)
        self.real = Window(config.window)
        self.fake = Window(config.window)

    def observe_step(self, step, losses, grad_norms=None, scores=None, param_change=None):
        if not scores:
            return []
        real, fake = scores.get(self.config.d_real_key), scores.get(self.config.d_fake_key)
        if real is None or fake is None or not (_finite(real) and _finite(fake)):
            return []
        self.real.add(real)
        self.fake.add(fake)
        if not self.real.full:
            return []
        r, f = self.real.mean(), self.fake.mean()
        cfg = self.config
        if self.episode(None, cfg.window).update(r > cfg.d_real_max and f < cfg.d_fake_min):
            return [self.alarm("discriminator saturated: D(x) near 1 and D(G(z)) near 0",
                               WARNING, {"d_real_mean": r, "d_real_max": cfg.d_real_max,
                                         "d_fake_mean": f, "d_fake_min": cfg.d_fake_min,
                                         "window": len(self.real)}, step=step)]
        return []

    def statistics(self):
        if not len(self.real):
            return {}
        return {"d_real_mean": self.real.mean(), "d_fake_mean": self.fake.mean()}


class GeneratorLossRising(StepMonitor):
    """G's loss (``gen_key``) rising, significantly and by a lot, over a window: WARNING.

    Judged after ``warmup_steps``, on a full window: the last quarter's mean must exceed the
    first quarter's by ``gen_rise_frac`` of it (cheap, checked every step), and then
    ``scipy.stats.linregress`` over the window must give a slope > 0 with p-value below
    ``gen_rise_alpha`` (~1 ms, so only run when the first test passes).
    """

    def __init__(self, config: HealthConfig):
        super().__init__(config)
        self.window = Window(config.window)

    def _rise(self, y: np.ndarray) -> tuple[float, float, float]:
        q = max(1, len(y) // 4)
        start, end = float(y[:q].mean()), float(y[-q:].mean())
        return start, end, (end - start) / abs(start) if start != 0 else float("inf")

    def observe_step(self, step, losses, grad_norms=None, scores=None, param_change=None):
        frac = self.config.gen_rise_frac
        value = losses.get(self.config.gen_key)
        if frac is None or value is None or not _finite(value) or step <= self.config.warmup_steps:
            return []
        self.window.add(value)
        if not self.window.full:
            return []
        y = self.window.array()
        start, end, rise = self._rise(y)
        rising, fit = end > start and rise > frac, {}
        if rising:
            fit = _linregress(y)
            rising = fit["slope"] > 0 and fit["p_value"] < self.config.gen_rise_alpha
        if self.episode(None, self.config.window).update(rising):
            return [self.alarm(f"generator loss '{self.config.gen_key}' rising", WARNING,
                               {"start_mean": start, "end_mean": end, "rise": rise,
                                "slope": fit["slope"], "p_value": fit["p_value"],
                                "window": len(y)}, step=step)]
        return []

    def statistics(self):
        if not self.window.full:
            return {}
        y = self.window.array()
        start, end, rise = self._rise(y)
        fit = _linregress(y)
        return {"gen_rise": rise, "gen_slope": fit["slope"], "gen_slope_p": fit["p_value"]}


def _linregress(y: np.ndarray) -> dict[str, float]:
    from scipy.stats import linregress  # imported on first use: scipy takes ~0.3 s to load

    if np.ptp(y) == 0:
        return {"slope": 0.0, "p_value": 1.0}
    fit = linregress(np.arange(len(y), dtype=float), y)
    return {"slope": float(fit.slope), "p_value": float(fit.pvalue)}


class GradientNorms(StepMonitor):
    """Per network: gradient norms exploding or vanishing, or parameters not changing.

    * exploding: the median gradient norm of a whole window above ``grad_norm_max``: WARNING;
    * vanishing: every gradient norm of a whole window below ``grad_norm_min``: FAILED;
    * frozen: every relative parameter change of a whole window at or below
      ``param_change_min``: FAILED. This is what a learning rate of 0 produces: its
      gradients are normal, only the update is zero, so it needs ``param_change``.
    """

    def __init__(self, config: HealthConfig):
        super().__init__(config)
        self.norms: dict[str, Window] = {}
        self.changes: dict[str, Window] = {}

    def _window(self, table: dict[str, Window], key: str) -> Window:
        if key not in table:
            table[key] = Window(self.config.window)
        return table[key]

    def observe_step(self, step, losses, grad_norms=None, scores=None, param_change=None):
        cfg, alarms = self.config, []
        for net, value in (grad_norms or {}).items():
            if not _finite(value):
                continue
            w = self._window(self.norms, net)
            w.add(value)
            if not w.full:
                continue
            if cfg.grad_norm_max is not None:
                median = w.median()
                if self.episode(("exploding", net), cfg.window).update(median > cfg.grad_norm_max):
                    alarms.append(self.alarm(f"gradient norm of '{net}' exploding", WARNING,
                                             {"median": median, "max": cfg.grad_norm_max,
                                              "window": len(w)}, step=step))
            if cfg.grad_norm_min is not None:
                largest = w.max()
                if self.episode(("vanishing", net), cfg.window).update(largest < cfg.grad_norm_min):
                    alarms.append(self.alarm(f"gradient norm of '{net}' vanished", FAILED,
                                             {"largest": largest, "min": cfg.grad_norm_min,
                                              "window": len(w)}, step=step))
        for net, value in (param_change or {}).items():
            if cfg.param_change_min is None or not _finite(value):
                continue
            w = self._window(self.changes, net)
            w.add(abs(value))
            if not w.full:
                continue
            largest = w.max()
            if self.episode(("frozen", net), cfg.window).update(largest <= cfg.param_change_min):
                alarms.append(self.alarm(f"parameters of '{net}' not changing", FAILED,
                                         {"largest_change": largest,
                                          "min": cfg.param_change_min,
                                          "window": len(w)}, step=step))
        return alarms

    def statistics(self):
        stats = {}
        for net, w in self.norms.items():
            if len(w):
                stats[f"grad_{net}_median"] = w.median()
        for net, w in self.changes.items():
            if len(w):
                stats[f"param_change_{net}_mean"] = w.mean()
        return stats


# =========================================================================== per evaluation
