"""``data.on_bad_file``: what a folder dataset does with an image file it cannot read.

Folder datasets read their images lazily, while training. A missing, truncated or corrupt
file (:class:`ganrun.images.UnreadableImage`) then either stops the run with one line naming
the file (``stop``, the default: a bad file is usually a broken download worth fixing), or
is replaced by the next readable file of the same list, wrapping at the end (``skip``). A
skipping dataset warns once, remembers each bad path (never read again) and counts them.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Sequence, TypeVar

from ganrun.errors import UserError
from ganrun.images import UnreadableImage

ON_BAD_FILE = ("stop", "skip")  # the choices of every folder dataset's data.on_bad_file

T = TypeVar("T")


def problem(error: UnreadableImage) -> str:
    """``image file 'PATH' not found`` or ``... is unreadable (REASON)``."""
    what = "not found" if error.missing else f"is unreadable ({error.reason})"
    return f"image file '{error.path}' {what}"


class BadFiles:
    """One dataset's unreadable images under its ``data.on_bad_file`` policy.

    ``source`` is the recipe key an error names (``data.root``); ``bad`` maps each bad file
    found so far to what is wrong with it, and ``skipped`` counts them."""

    def __init__(self, policy: str, source: str = "data.root"):
        if policy not in ON_BAD_FILE:
            raise ValueError(f"on_bad_file must be one of {ON_BAD_FILE}, got {policy!r}")
        self.policy, self.source = policy, source
        self.bad: dict[Path, str] = {}

    @property
    def skipped(self) -> int:
        """How many bad files were found (and skipped) so far."""
        return len(self.bad)

    def read(self, files: Sequence[Path], i: int, read: Callable[[Path], T]) -> tuple[int, T]:
        """``(i, read(files[i]))``; under ``skip``, the first readable file from ``i`` on
        (wrapping) and its index. Raises UserError under ``stop`` or when none is readable."""
        for step in range(len(files)):
            j = (i + step) % len(files)
            if self.bad and files[j] in self.bad:
                continue
            try:
                return j, read(files[j])
            except UnreadableImage as e:
                self._found(files[j], e)
        folder = os.path.commonpath([str(f.parent) for f in files])
        raise UserError(f"{self.source}: none of the {len(files)} image files under '{folder}' "
                        f"can be read ({self.bad[files[0]]}, ...); fix or replace them")

    def _found(self, path: Path, error: UnreadableImage) -> None:
        what = problem(error)
        if self.policy == "stop":
            fix = "restore it" if error.missing else "fix or remove it"
            raise UserError(f"{self.source}: {what}; {fix}, or set data.on_bad_file: skip")
        self.bad[path] = what
        if self.skipped == 1:
            from tqdm import tqdm  # writes above a running progress bar, not through it

            tqdm.write(f"ganrun: warning: {self.source}: {what}; skipping it (data.on_bad_file: "
                       f"skip), {self.skipped} so far; later ones are skipped without a warning",
                       file=sys.stderr)
