"""The pieces every health monitor is built from: windows, episodes, the Monitor base."""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import numpy as np

from ganrun.health.alarms import CONVERGENCE, Alarm
from ganrun.health.config import HealthConfig

Values = Optional[Mapping[str, float]]


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


class Episode:
    """Once-per-episode gate: ``update(True)`` is True only when an episode starts."""

    def __init__(self, clear_after: int = 1):
        self.clear_after = max(1, int(clear_after))
        self.active = False
        self._clear = 0

    def update(self, condition: bool) -> bool:
        if condition:
            self._clear = 0
            if not self.active:
                self.active = True
                return True
            return False
        if self.active:
            self._clear += 1
            if self._clear >= self.clear_after:
                self.active, self._clear = False, 0
        return False


class Window:
    """The last ``size`` finite values of one signal (a ring buffer: cheap every step)."""

    def __init__(self, size: int):
        self.size = int(size)
        self.buffer = np.empty(self.size)
        self.count = 0
        self.next = 0

    def add(self, value: float) -> None:
        self.buffer[self.next] = value
        self.next = (self.next + 1) % self.size
        self.count = min(self.count + 1, self.size)

    def __len__(self) -> int:
        return self.count

    @property
    def full(self) -> bool:
        return self.count == self.size

    def unordered(self) -> np.ndarray:
        """The values in buffer order: enough for a mean, median or maximum."""
        return self.buffer[:self.count]

    def array(self) -> np.ndarray:
        """The values oldest first."""
        if not self.full:
            return self.buffer[:self.count].copy()
        return np.concatenate((self.buffer[self.next:], self.buffer[:self.next]))

    def mean(self) -> float:
        return float(self.unordered().mean()) if self.count else float("nan")

    def median(self) -> float:
        return float(np.median(self.unordered())) if self.count else float("nan")

    def max(self) -> float:
        return float(self.unordered().max()) if self.count else float("nan")


class Monitor:
    """Base: a name, a category, its episodes, its alarm factory."""

    category = CONVERGENCE

    def __init__(self, config: HealthConfig):
        self.config = config
        self.episodes: dict[Any, Episode] = {}

    @property
    def name(self) -> str:
        return type(self).__name__

    def episode(self, key: Any, clear_after: int) -> Episode:
        if key not in self.episodes:
            self.episodes[key] = Episode(clear_after)
        return self.episodes[key]

    def alarm(self, symptom: str, severity: str, evidence: dict[str, float],
              step: int | None = None, epoch: int | None = None) -> Alarm:
        return Alarm(monitor=self.name, symptom=symptom, severity=severity,
                     evidence=evidence, step=step, epoch=epoch, category=self.category)

    def statistics(self) -> dict[str, float]:
        return {}
