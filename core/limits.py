"""``limit``: a dataclass field with a default and the range it must stay in.

The recipe validator (:func:`ganrun.recipe.check_limits`) enforces the ``ge``, ``gt``,
``le`` and ``choices`` metadata of every schema field made with it.
"""
from __future__ import annotations

from dataclasses import field
from typing import Any


def limit(default: Any, **meta: Any) -> Any:
    """A dataclass field with a default and limits: ``limit(256, ge=1)``."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)
