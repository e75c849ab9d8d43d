"""``limit``: a schema field with its default, the range it must stay in, and what it means.

A field's limits and its one-line doc are field metadata, so they are data: the recipe
validator (:func:`ganrun.recipe.check_limits`) enforces the limits through
:func:`broken_limit`, and the recipe reference (:mod:`ganrun.recipe_reference`) prints the
same limits through :func:`describe_limits`, next to the doc.
"""
from __future__ import annotations

import operator
from dataclasses import field
from typing import Any, Callable, Mapping

DOC = "doc"  # the metadata key of a field's one-line explanation
CHOICES = "choices"
# the metadata key of a bound -> how the reference writes it, and the test a value must pass
BOUNDS: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    "ge": (">=", operator.ge),
    "gt": (">", operator.gt),
    "le": ("<=", operator.le),
    "lt": ("<", operator.lt),
}


def limit(default: Any, doc: str = "", **limits: Any) -> Any:
    """A dataclass field with a default, limits and a doc: ``limit(256, ge=1, doc="...")``.

    ``limits`` are the bounds of :data:`BOUNDS` and ``choices``; any other name is refused
    here, when the schema is defined, so a misspelt limit cannot be silently ignored.
    """
    unknown = sorted(set(limits) - set(BOUNDS) - {CHOICES})
    if unknown:
        raise TypeError(f"limit(): unknown limit {unknown[0]!r} "
                        f"(known: {', '.join([*BOUNDS, CHOICES])})")
    meta = {**limits, DOC: doc} if doc else limits
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def broken_limit(value: Any, meta: Mapping[str, Any]) -> str | None:
    """What ``value`` breaks of the field metadata ``meta`` (``"must be >= 1"``), or None."""
    for key, (symbol, ok) in BOUNDS.items():
        if key in meta and not ok(value, meta[key]):
            return f"must be {symbol} {meta[key]}"
    if CHOICES in meta and value not in meta[CHOICES]:
        return f"must be one of {', '.join(map(str, meta[CHOICES]))}"
    return None


def describe_limits(meta: Mapping[str, Any]) -> str:
    """The limits of field metadata ``meta`` as text: ``">= 0, <= 9"``, ``"one of a, b"``."""
    parts = [f"{symbol} {meta[key]}" for key, (symbol, _) in BOUNDS.items() if key in meta]
    if CHOICES in meta:
        parts.append(f"one of {', '.join(map(str, meta[CHOICES]))}")
    return ", ".join(parts)
