"""Induced faults for bench/fault_suite.py, chosen by environment variables.

``GANRUN_FAULT`` names the fault, ``GANRUN_FAULT_NTH`` the checkpoint write it hits (1: this
process's first):
- ``write_payload``: SIGKILL with half the checkpoint's temporary file written;
- ``before_rename``: SIGKILL with the temporary file whole and synced, not yet renamed;
- ``after_rename``: SIGKILL after the rename, before the folder is synced;
- ``fill_after_checkpoint``: after that checkpoint is saved, fill the disk of the run folder
  but ``GANRUN_FAULT_LEAVE`` bytes (a file at ``GANRUN_FAULT_FILLER``), so the next write
  meets ENOSPC;
- ``fill_before_export``: the same after the last epoch's checkpoint, so the export meets it.
"""
from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import ganrun.checkpoint as checkpoint
from ganrun import hookimpl

FAULT = os.environ.get("GANRUN_FAULT", "")
NTH = int(os.environ.get("GANRUN_FAULT_NTH", "1"))
_writes = 0
_saved = 0


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _fill(folder: Path) -> None:
    """Leave ``GANRUN_FAULT_LEAVE`` bytes free on ``folder``'s filesystem."""
    leave = int(os.environ.get("GANRUN_FAULT_LEAVE", "0"))
    filler = os.environ["GANRUN_FAULT_FILLER"]
    size = max(0, shutil.disk_usage(folder).free - leave)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(fd, 0, size)
    finally:
        os.close(fd)


_real_write = checkpoint.atomic_write


def _atomic_write(path: Path, write):
    global _writes
    if not path.name.startswith("ckpt"):
        return _real_write(path, write)
    _writes += 1
    if _writes != NTH or FAULT not in ("write_payload", "before_rename", "after_rename"):
        return _real_write(path, write)
    if FAULT == "write_payload":
        def half(tmp: str) -> None:
            write(tmp)
            os.truncate(tmp, os.path.getsize(tmp) // 2)
            _die()

        return _real_write(path, half)
    real_replace = os.replace

    def replace(src, dst):
        if FAULT == "after_rename":
            real_replace(src, dst)
        _die()

    os.replace = replace
    return _real_write(path, write)


checkpoint.atomic_write = _atomic_write


@hookimpl
def ganrun_checkpoint_saved(run, path, epoch):
    global _saved
    _saved += 1
    if FAULT == "fill_after_checkpoint" and _saved == NTH:
        _fill(run.output_dir)
    if FAULT == "fill_before_export" and epoch == run.recipe.train.epochs:
        _fill(run.output_dir)
