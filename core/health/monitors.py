"""Health monitors: pure logic, fed numbers, returning new :class:`Alarm` s.

Two families:

* convergence monitors read every training step (``observe_step``): the losses, the
  per-network gradient norms, D's mean outputs ``d_real``/``d_fake`` and the per-network
  relative parameter change;
* mode-collapse monitors read every evaluation (``observe_eval``): ``eval/*`` metrics and
  the real data's reference values (``real/*``).

Each monitor raises an alarm once per *episode*: when its condition becomes true. While it
stays true nothing more is raised; the episode ends (and a later one may raise again) once
the condition has been false for ``clear_after`` observations in a row (a whole window
for step monitors, one evaluation for evaluation monitors), so a windowed mean hovering on
its threshold does not raise an alarm every other step.

Non-finite values never enter a window (``NonFinite`` reports them); a signal that is not
fed is not judged. :class:`HealthMonitor` holds them all, built from a
:class:`~ganrun.health.config.HealthConfig` and the monitor classes to run: by default
:data:`BUILTIN_MONITORS`; in a run, every class registered through
``ganrun_register_monitors`` (the built-in health plugin registers these).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from ganrun.health.alarms import FAILED, Alarm, status_code, status_of
from ganrun.health.base import Monitor, Values
from ganrun.health.collapse import (CoverageFalling, EvalMonitor, FIDRising, LowDiversity,
                                    PrecisionWithoutRecall)
from ganrun.health.config import HealthConfig
from ganrun.health.convergence import (DiscriminatorWins, GeneratorLossRising, GradientNorms,
                                       NonFinite, SaturatedScores, StepMonitor)
from ganrun.health.state import decode, encode, load_monitor_state, monitor_state
from ganrun.health.translation import (ContentLost, CycleWithoutTranslation, DomainCollapse,
                                       InputIgnored, NothingTranslated)
from ganrun.health.wasserstein import ClassificationStalled, CriticDiverging, PenaltyDominates


BUILTIN_MONITORS: tuple[type[Monitor], ...] = (
    NonFinite, DiscriminatorWins, SaturatedScores, GeneratorLossRising, GradientNorms,
    CriticDiverging, PenaltyDominates, ClassificationStalled,
    CoverageFalling, LowDiversity, PrecisionWithoutRecall, FIDRising,
    InputIgnored, NothingTranslated, ContentLost, CycleWithoutTranslation, DomainCollapse)


class HealthMonitor:
    """Every monitor of a :class:`HealthConfig`; feed it steps and evaluations.

    ``observe_step``/``observe_eval`` return the alarms raised by that call (usually none);
    ``alarms`` holds all of them, ``status`` is ``ok``/``warning``/``failed``, and
    ``should_stop`` is true once a failed alarm was raised under ``on_failure: stop``.
    """

    def __init__(self, config: HealthConfig | None = None,
                 monitors: Iterable[type[Monitor]] | None = None):
        self.config = config or HealthConfig()
        built = [cls(self.config) for cls in (BUILTIN_MONITORS if monitors is None else monitors)]
        self.step_monitors = [m for m in built if hasattr(m, "observe_step")]
        self.eval_monitors = [m for m in built if hasattr(m, "observe_eval")]
        self.alarms: list[Alarm] = []

    def observe_step(self, step: int, losses: Mapping[str, float], grad_norms: Values = None,
                     scores: Values = None, param_change: Values = None) -> list[Alarm]:
        if not self.config.enabled:
            return []
        new: list[Alarm] = []
        for monitor in self.step_monitors:
            new += monitor.observe_step(step, losses, grad_norms, scores, param_change)
        self.alarms += new
        return new

    def observe_eval(self, epoch: int, metrics: Mapping[str, float],
                     reference: Values = None) -> list[Alarm]:
        if not self.config.enabled:
            return []
        new: list[Alarm] = []
        for monitor in self.eval_monitors:
            new += monitor.observe_eval(epoch, metrics, reference or {})
        self.alarms += new
        return new

    @property
    def monitors(self) -> list[Monitor]:
        return [*self.step_monitors, *self.eval_monitors]

    @property
    def status(self) -> str:
        return status_of(self.alarms)

    @property
    def should_stop(self) -> bool:
        return self.config.on_failure == "stop" and self.status == FAILED

    def state_dict(self) -> dict[str, Any]:
        """Every monitor's windows, episodes and counters, and the alarms raised so far."""
        return {"monitors": {m.name: monitor_state(m) for m in self.monitors},
                "alarms": encode(self.alarms)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for m in self.monitors:
            if m.name in state["monitors"]:
                load_monitor_state(m, state["monitors"][m.name])
        self.alarms = decode(state["alarms"])

    def statistics(self) -> dict[str, float]:
        """Numbers worth logging as metrics, prefixed ``health/``: window means, the G-loss
        trend (rise, slope, p-value), median gradient norms, mean parameter changes, best
        evaluation values, alarm counts and the status (0 ok, 1 warning, 2 failed)."""
        stats: dict[str, float] = {}
        for monitor in self.monitors:
            for key, value in monitor.statistics().items():
                if value is not None:
                    stats[f"health/{key}"] = float(value)
        stats["health/alarms"] = float(len(self.alarms))
        stats["health/failed"] = float(sum(a.severity == FAILED for a in self.alarms))
        stats["health/status"] = float(status_code(self.status))
        return stats


def split_step_values(values: Mapping[str, float], networks: Iterable[str] = ("G", "D"),
                      config: HealthConfig | None = None
                      ) -> tuple[dict[str, float], dict[str, float], dict[str, float],
                                 dict[str, float]]:
    """Split one ``train_step`` dict into ``(losses, grad_norms, scores, param_change)``.

    Conventions: ``grad_<net>`` is the gradient norm of network ``<net>`` and
    ``param_change_<net>`` its relative parameter change, for ``<net>`` in ``networks``
    (so a loss called ``grad_penalty`` stays a loss); ``config.d_real_key`` and
    ``config.d_fake_key`` are D's mean outputs; everything else is a loss.
    """
    cfg = config or HealthConfig()
    nets: Sequence[str] = tuple(networks)
    losses, grads, scores, changes = {}, {}, {}, {}
    for key, value in values.items():
        if key.startswith("grad_") and key[5:] in nets:
            grads[key[5:]] = value
        elif key.startswith("param_change_") and key[13:] in nets:
            changes[key[13:]] = value
        elif key in (cfg.d_real_key, cfg.d_fake_key):
            scores[key] = value
        else:
            losses[key] = value
    return losses, grads, scores, changes
