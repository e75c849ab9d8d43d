"""What a health monitor reports: an :class:`Alarm`, one line each, and a run's status."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Optional

WARNING = "warning"
FAILED = "failed"
SEVERITIES = (WARNING, FAILED)

OK = "ok"
STATUSES = (OK, WARNING, FAILED)  # in increasing order of gravity

CONVERGENCE = "convergence"
MODE_COLLAPSE = "mode collapse"
TRANSLATION = "translation"
CATEGORIES = (CONVERGENCE, MODE_COLLAPSE, TRANSLATION)


def fmt(value: float) -> str:
    """A number as an alarm line prints it: ``NaN``, ``inf``, ``12``, ``0.0123``, ``3.2e-09``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3g}"


@dataclass
class Alarm:
    """One health problem, raised once when its episode starts.

    ``monitor`` is the monitor's name (``NonFinite``, ``DiscriminatorWins`` ...), ``symptom``
    a short phrase (``loss 'disc' is NaN``), ``severity`` ``"warning"`` or ``"failed"``
    (a failed alarm stops the run when ``health.on_failure`` is ``stop``), ``evidence`` the
    numbers behind it, ``step`` the global step (step monitors) or ``epoch`` (evaluation
    monitors) at which it was raised, ``category`` ``"convergence"``, ``"mode collapse"`` or
    ``"translation"``.
    """

    monitor: str
    symptom: str
    severity: str
    evidence: dict[str, float] = field(default_factory=dict)
    step: Optional[int] = None
    epoch: Optional[int] = None
    category: str = CONVERGENCE

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    def where(self) -> str:
        if self.step is not None:
            return f"at step {self.step}"
        if self.epoch is not None:
            return f"at epoch {self.epoch}"
        return ""

    def line(self) -> str:
        """``health: FAILED convergence: loss 'disc' is NaN at step 1234 [last_finite=1.31]``."""
        text = f"health: {self.severity.upper()} {self.category}: {self.symptom}"
        where = self.where()
        if where:
            text += f" {where}"
        if self.evidence:
            text += " [" + ", ".join(f"{k}={fmt(v)}" for k, v in self.evidence.items()) + "]"
        return text

    def as_dict(self) -> dict:
        """For a JSON file or an MLflow tag: every field, evidence included."""
        return {"monitor": self.monitor, "symptom": self.symptom, "severity": self.severity,
                "category": self.category, "step": self.step, "epoch": self.epoch,
                "evidence": dict(self.evidence), "line": self.line()}

    def __str__(self) -> str:
        return self.line()


def status_of(alarms: Iterable[Alarm]) -> str:
    """``"failed"`` if any alarm failed, else ``"warning"`` if there is any alarm, else ``"ok"``."""
    status = OK
    for alarm in alarms:
        if alarm.severity == FAILED:
            return FAILED
        status = WARNING
    return status


def status_code(status: str) -> int:
    """0 ok, 1 warning, 2 failed: the status as a number a tracker can plot."""
    return STATUSES.index(status)
