"""The monitors' state as a checkpoint holds it: windows, episodes, counters and alarms as
plain tensors, numbers, strings and containers (what ``torch.load(weights_only=True)``
reads), and back, so a resumed run judges as an uninterrupted one would."""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from ganrun.health.alarms import Alarm
from ganrun.health.base import Episode, Window

KIND = "__health__"  # marks an encoded object: {"__health__": "window", ...}


def encode(value: Any) -> Any:
    """``value`` in checkpointable form; Windows, Episodes and Alarms become tagged dicts."""
    if isinstance(value, Window):
        return {KIND: "window", "size": value.size, "count": value.count, "next": value.next,
                "buffer": torch.from_numpy(value.buffer.copy())}
    if isinstance(value, Episode):
        return {KIND: "episode", "clear_after": value.clear_after, "active": value.active,
                "clear": value._clear}
    if isinstance(value, Alarm):
        return {KIND: "alarm", **encode(dataclasses.asdict(value))}
    if isinstance(value, dict):
        return {encode(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(encode(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    return value


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(value, dict) and value.get(KIND) == "window":
        w = Window(value["size"])
        w.buffer[:] = value["buffer"].numpy()
        w.count, w.next = int(value["count"]), int(value["next"])
        return w
    if isinstance(value, dict) and value.get(KIND) == "episode":
        e = Episode(value["clear_after"])
        e.active, e._clear = bool(value["active"]), int(value["clear"])
        return e
    if isinstance(value, dict) and value.get(KIND) == "alarm":
        return Alarm(**{k: decode(v) for k, v in value.items() if k != KIND})
    if isinstance(value, dict):
        return {decode(k): decode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(decode(v) for v in value)
    return value


def monitor_state(monitor: Any) -> dict[str, Any]:
    """Every attribute of a monitor but its config, encoded."""
    return {k: encode(v) for k, v in vars(monitor).items() if k != "config"}


def load_monitor_state(monitor: Any, state: dict[str, Any]) -> None:
    for k, v in state.items():
        setattr(monitor, k, decode(v))
