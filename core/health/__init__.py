"""Training-health monitors: convergence failures per step, mode collapse per evaluation.

Pure logic, no torch and no hooks: a caller feeds numbers to a :class:`HealthMonitor` built
from a :class:`HealthConfig` (the recipe's ``health:`` section) and gets :class:`Alarm` s
back, each raised once per episode, each with a one-line ``line()``.
"""
from ganrun.health.alarms import Alarm, status_of
from ganrun.health.config import HealthConfig
from ganrun.health.monitors import (EVAL_MONITORS, STEP_MONITORS, CoverageFalling,
                                    DiscriminatorWins, FIDRising, GeneratorLossRising,
                                    GradientNorms, HealthMonitor, LowDiversity, NonFinite,
                                    PrecisionWithoutRecall, SaturatedScores, split_step_values)

__all__ = [
    "Alarm", "status_of", "HealthConfig", "HealthMonitor", "split_step_values",
    "NonFinite", "DiscriminatorWins", "SaturatedScores", "GeneratorLossRising", "GradientNorms",
    "CoverageFalling", "LowDiversity", "PrecisionWithoutRecall", "FIDRising",
    "STEP_MONITORS", "EVAL_MONITORS",
]
