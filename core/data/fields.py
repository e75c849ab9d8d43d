"""Schema fields that several datasets share, each with its default, limits and doc."""
from __future__ import annotations

from typing import Any

from ganrun.data.bad_files import ON_BAD_FILE
from ganrun.limits import limit


def first_n(of: str = "images of the split") -> Any:
    """``data.limit``: use only the first N items (``of`` says which); 0 uses all."""
    return limit(0, ge=0, doc=f"use only the first N {of}; 0 uses all")


def flip() -> Any:
    """``data.flip``: a random left-right flip of training images."""
    return limit(True, doc="random left-right flip (train split only)")


def channels() -> Any:
    """``data.channels``: how image files are read."""
    return limit(3, choices=[1, 3], doc="3: RGB; 1: greyscale")


def on_bad_file() -> Any:
    """``data.on_bad_file``: what a folder dataset does with an unreadable image."""
    return limit("stop", choices=ON_BAD_FILE,
                 doc="an unreadable image: stop with its path, or skip it (the next readable "
                     "one instead)")
