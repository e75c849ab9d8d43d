"""Training-health monitors: convergence failures per step, mode collapse and failed
translation per evaluation, a Wasserstein critic's own failures per step.

Pure logic, no hooks: a caller feeds numbers to a :class:`HealthMonitor` built from a
:class:`HealthConfig` (the recipe's ``health:`` section) and gets :class:`Alarm` s back,
each raised once per episode, each with a one-line ``line()``.
"""
from ganrun.health.alarms import Alarm, status_of
from ganrun.health.config import HealthConfig
from ganrun.health.monitors import (BUILTIN_MONITORS, ClassificationStalled, ContentLost,
                                    CoverageFalling, CriticDiverging, CycleWithoutTranslation,
                                    DiscriminatorWins, DomainCollapse, FIDRising,
                                    GeneratorLossRising, GradientNorms, HealthMonitor,
                                    InputIgnored, LowDiversity, NonFinite, NothingTranslated,
                                    PenaltyDominates, PrecisionWithoutRecall, SaturatedScores,
                                    split_step_values)

__all__ = [
    "Alarm", "status_of", "HealthConfig", "HealthMonitor", "split_step_values",
    "NonFinite", "DiscriminatorWins", "SaturatedScores", "GeneratorLossRising", "GradientNorms",
    "CriticDiverging", "PenaltyDominates", "ClassificationStalled",
    "CoverageFalling", "LowDiversity", "PrecisionWithoutRecall", "FIDRising",
    "InputIgnored", "NothingTranslated", "ContentLost", "CycleWithoutTranslation",
    "DomainCollapse", "BUILTIN_MONITORS",
]
