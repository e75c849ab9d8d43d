"""Monitors of a Wasserstein critic (WGAN-GP, Gulrajani et al. 2017), fed every step.

A critic is not a classifier: its loss is signed and has no floor, so the BCE checks of
:mod:`ganrun.health.convergence` do not apply (a recipe sets ``disc_loss_min`` and
``gen_rise_frac`` null). It fails in its own ways, read from the signals ``train_step``
reports under these names (``health.w_key``, ``w_bound_key``, ``gp_key``, ``g_cls_key``):

* ``w_distance``: the critic's estimate of the Wasserstein-1 distance, mean D(x) - mean
  D(G(z)), before the penalty;
* ``w_bound``: the mean L2 distance between the real and generated images the critic
  compared (paired in batch order), which a 1-Lipschitz critic's estimate cannot exceed;
* ``gp``: the gradient penalty as the critic's loss adds it, ``lambda_gp`` x
  E[(||grad D(x^)||_2 - 1)^2] (eq. 3);
* ``g_cls``: a conditional generator's domain-classification loss (StarGAN's
  L_cls^f, Choi et al. 2018, eq. 3).
"""
from __future__ import annotations

from ganrun.health.alarms import FAILED, WARNING
from ganrun.health.base import Window, _finite
from ganrun.health.config import HealthConfig
from ganrun.health.convergence import StepMonitor


class CriticDiverging(StepMonitor):
    """The critic's distance estimate (``w_key``) running away: over a whole window, the
    median of |estimate| / ``w_bound_key`` above ``w_ratio_max``: FAILED.

    ``w_bound`` is the mean L2 distance between the real and generated images the critic
    compared, paired as in the batch. A 1-Lipschitz critic cannot estimate more: by the mean
    value theorem D(x) - D(y) <= max ||grad D|| ||x - y|| on the segment from y to x, which
    is where the gradient penalty holds the norm near 1 (Gulrajani et al. 2017, Sec. 4). A
    critic without the penalty, or with one too weak for its learning rate, scales its
    outputs up without bound, and its estimate means nothing. The ratio makes the check
    independent of the image size; the median ignores a few wild steps."""

    def __init__(self, config: HealthConfig):
        super().__init__(config)
        self.window = Window(config.window)

    def observe_step(self, step, losses, grad_norms=None, scores=None, param_change=None):
        cfg = self.config
        w, bound = losses.get(cfg.w_key), losses.get(cfg.w_bound_key)
        if cfg.w_ratio_max is None or w is None or bound is None or not (
                _finite(w) and _finite(bound)) or bound <= 0:
            return []
        self.window.add(abs(w) / bound)
        if not self.window.full:
            return []
        median = self.window.median()
        if self.episode(None, cfg.window).update(median > cfg.w_ratio_max):
            return [self.alarm(f"critic diverging: '{cfg.w_key}' beyond the distance between "
                               f"the images it compares", FAILED,
                               {"ratio": median, "max": cfg.w_ratio_max, "w_distance": w,
                                "w_bound": bound, "window": len(self.window)}, step=step)]
        return []

    def statistics(self):
        return {"w_ratio_median": self.window.median()} if len(self.window) else {}


class PenaltyDominates(StepMonitor):
    """The gradient penalty dominating the critic's loss: over a whole window, the median
    penalty (``gp_key``) above ``gp_share_max`` of median penalty + median |distance
    estimate| (``w_key``): WARNING. The critic spends itself on its gradient norm instead
    of telling real from generated, so the generator gets little signal."""

    def __init__(self, config: HealthConfig):
        super().__init__(config)
        self.gp = Window(config.window)
        self.w = Window(config.window)

    def observe_step(self, step, losses, grad_norms=None, scores=None, param_change=None):
        cfg = self.config
        gp, w = losses.get(cfg.gp_key), losses.get(cfg.w_key)
        if cfg.gp_share_max is None or gp is None or w is None or not (_finite(gp)
                                                                          and _finite(w)):
            return []
        self.gp.add(gp)
        self.w.add(abs(w))
        if not self.gp.full:
            return []
        penalty, distance = self.gp.median(), self.w.median()
        share = penalty / (penalty + distance) if penalty + distance > 0 else 0.0
        if self.episode(None, cfg.window).update(share > cfg.gp_share_max):
            return [self.alarm(f"gradient penalty '{cfg.gp_key}' dominates the critic's loss",
                               WARNING, {"gp_median": penalty, "w_median": distance,
                                         "share": share, "max": cfg.gp_share_max,
                                         "window": len(self.gp)}, step=step)]
        return []

    def statistics(self):
        if not len(self.gp):
            return {}
        penalty, distance = self.gp.median(), self.w.median()
        return {"gp_share": penalty / (penalty + distance) if penalty + distance > 0 else 0.0}


class ClassificationStalled(StepMonitor):
    """The generator's classification loss (``g_cls_key``) not falling: after
    ``g_cls_steps`` steps, the mean of a whole window still above ``1 - g_cls_drop`` of the
    first window's mean: WARNING. The generator does not learn to reach the target domains
    the critic's classifier tells apart (StarGAN, Choi et al. 2018, eq. 3)."""

    def __init__(self, config: HealthConfig):
        super().__init__(config)
        self.window = Window(config.window)
        self.first: float | None = None  # the mean of the first full window
        self.seen = 0

    def observe_step(self, step, losses, grad_norms=None, scores=None, param_change=None):
        cfg = self.config
        value = losses.get(cfg.g_cls_key)
        if cfg.g_cls_drop is None or value is None or not _finite(value):
            return []
        self.window.add(value)
        self.seen += 1
        if not self.window.full:
            return []
        mean = self.window.mean()
        if self.first is None:
            self.first = mean
        if self.seen < cfg.g_cls_steps:
            return []
        limit = (1.0 - cfg.g_cls_drop) * self.first
        if self.episode(None, cfg.window).update(mean > limit):
            return [self.alarm(f"classification loss '{cfg.g_cls_key}' not falling", WARNING,
                               {"mean": mean, "first": self.first, "limit": limit,
                                "steps": self.seen, "window": len(self.window)}, step=step)]
        return []

    def statistics(self):
        return {"g_cls_mean": self.window.mean()} if len(self.window) else {}

