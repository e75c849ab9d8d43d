"""Checkpoint I/O: atomic save and load of a run's whole state; generator export.

Checkpoints hold only tensors, numbers, strings and containers, so they load with
``torch.load(weights_only=True)``: loading never runs code. A checkpoint file is a magic
line, the SHA-256 of its payload and the payload (``torch.save``'s bytes), so a truncated
or corrupt file is told from a good one before anything is unpickled. Exported generators
are safetensors files whose metadata carries the recipe they were trained with, in one key,
so the same weights and recipe always give the same bytes.
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import pickle
import random
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save
from torch import nn

from ganrun.errors import ResourceError, UserError

CHECKPOINT_FORMAT = "ganrun-checkpoint/1"
CHECKPOINT_MAGIC = b"ganrun-checkpoint/2 sha256\n"  # then 32 digest bytes, then the payload
CHECKPOINT_DIR = "checkpoints"  # inside a run folder
GENERATOR_DIR = "generator"  # inside a run folder, and the run's MLflow artifact folder
GENERATOR_FORMAT = "ganrun-generator/1"
GENERATOR_META_KEY = "ganrun"  # the one metadata key: safetensors orders several at random


def atomic_write(path: Path, write: Callable[[str], Any]) -> Path:
    """Call ``write(tmp_path)`` then rename over ``path`` and sync the folder: a kill or a
    power cut never leaves half a file, and a failed write removes its temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide checkpoints and weights from others
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself reaches the disk
    finally:
        os.close(folder)
    return path


def write_file(path: Path, write: Callable[[str], Any], size: int, what: str) -> Path:
    """:func:`atomic_write`, turning a full disk into one line: what, and the space needed."""
    try:
        return atomic_write(path, write)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        free = shutil.disk_usage(path.parent).free
        raise ResourceError(f"{path}: no space left on the device for the {what}: it needs "
                            f"{_mb(size)}, {_mb(free)} free; nothing was overwritten") from None


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


# ------------------------------------------------------------------ RNG state
def rng_state() -> dict[str, Any]:
    """Every RNG the training touches: torch (CPU and CUDA), numpy and Python's."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "python": _to_lists(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    random.setstate(_to_tuples(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_lists(x):
    return [_to_lists(v) for v in x] if isinstance(x, tuple) else x


def _to_tuples(x):
    return tuple(_to_tuples(v) for v in x) if isinstance(x, list) else x


# ------------------------------------------------------------------ checkpoints
def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (plus the format marker) atomically to ``path``, with its checksum."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **state}, buffer)
    payload = buffer.getbuffer()
    digest = hashlib.sha256(payload).digest()

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(CHECKPOINT_MAGIC)
            f.write(digest)
            f.write(payload)

    return write_file(Path(path), write, len(CHECKPOINT_MAGIC) + len(digest) + len(payload),
                      "checkpoint")


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint's state, after its checksum is verified; never runs code (weights only).
    Files written before checksums (a plain ``torch.save``) load too."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise UserError(f"{path}: unreadable checkpoint ({e.strerror or type(e).__name__})") from None
    if data.startswith(CHECKPOINT_MAGIC):
        start = len(CHECKPOINT_MAGIC) + 32
        digest, payload = data[len(CHECKPOINT_MAGIC):start], memoryview(data)[start:]
        if len(data) < start or hashlib.sha256(payload).digest() != digest:
            raise UserError(f"{path}: corrupt or truncated checkpoint (checksum mismatch)")
        source: Any = io.BytesIO(payload)
    else:
        source = io.BytesIO(data)
    try:
        with warnings.catch_warnings():  # torch warns of pickle protocols it did not write
            warnings.simplefilter("ignore")
            state = torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # torch's text advises weights_only=False: not ours
        found = str(e).partition("WeightsUnpickler error:")[2].split("Check the documentation")[0]
        raise UserError(f"{path}: refused: it holds more than tensors and plain data, and "
                        f"loading it could run code ({' '.join(found.split())[:160]})") from None
    except Exception as e:
        reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        raise UserError(f"{path}: not a readable ganrun checkpoint ({type(e).__name__}"
                        f"{': ' + reason if reason else ''})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path}: not a ganrun checkpoint")
    return state


def checkpoint_name(epoch: int, step: int | None = None) -> str:
    """``ckpt-epoch0003.pt`` at the end of epoch 3; ``ckpt-epoch0003-step000000123.pt`` after
    step 123, inside epoch 3. Names sort in the order the run wrote them."""
    return f"ckpt-epoch{epoch:04d}.pt" if step is None else f"ckpt-epoch{epoch:04d}-step{step:09d}.pt"


def checkpoints(folder: str | Path) -> list[Path]:
    """The checkpoints in ``folder``, oldest first (temporary files of a killed write ignored)."""
    return sorted(Path(folder).glob("ckpt-epoch*.pt"))


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The newest checkpoint in ``folder``, readable or not."""
    found = checkpoints(folder)
    return found[-1] if found else None


def resume_point(folder: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint in ``folder`` that loads, and its state. A corrupt or truncated
    one is skipped with a one-line warning; none at all is None; none readable is an error."""
    found = checkpoints(folder)
    for path in reversed(found):
        try:
            return path, load_checkpoint(path)
        except UserError as e:
            print(f"ganrun: warning: skipping checkpoint {path.name}: "
                  f"{str(e).removeprefix(f'{path}: ')}", file=sys.stderr)
    if found:
        raise UserError(f"{folder}: none of its {len(found)} checkpoints is readable; "
                        f"start the run again without --resume")
    return None


# ------------------------------------------------------------------ generators
def export_generator(path: str | Path, generator: nn.Module, recipe_yaml: str, network: str,
                     role: str = "generator") -> Path:
    """Save ``generator``'s weights as safetensors, the recipe in the file's metadata; the
    same weights and recipe give the same bytes.

    ``role`` (``generator`` or ``discriminator``) says which role hook rebuilds the network
    when the file is loaded (a classifier is built as a discriminator)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    meta = {"format": GENERATOR_FORMAT, "network": network, "recipe": recipe_yaml, "role": role}
    data = save(tensors, metadata={GENERATOR_META_KEY: json.dumps(meta, sort_keys=True)})
    return write_file(Path(path), lambda tmp: Path(tmp).write_bytes(data), len(data),
                      f"{network} export")


def read_generator_meta(path: str | Path) -> dict[str, str]:
    """The metadata of an exported generator (recipe, network, role), without its weights."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: generator file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"{path}: not a ganrun generator ({type(e).__name__})") from None
    if GENERATOR_META_KEY in meta:  # one key since byte-stable exports; before, one per field
        try:
            meta = json.loads(meta[GENERATOR_META_KEY])
        except ValueError:
            meta = {}
    if not isinstance(meta, dict) or meta.get("format") != GENERATOR_FORMAT:
        raise UserError(f"{path}: not a ganrun generator (no '{GENERATOR_FORMAT}' metadata)")
    return meta


def read_generator(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Weights and metadata of an exported generator; refuses any other file."""
    meta = read_generator_meta(path)
    try:
        return load_file(str(path)), meta
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"{path}: not a ganrun generator ({type(e).__name__})") from None
