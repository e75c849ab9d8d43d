"""Checkpoint I/O: atomic save and load of a run's whole state; generator export.

Checkpoints hold only tensors, numbers, strings and containers, so they load with
``torch.load(weights_only=True)``: loading never runs code. Exported generators are
safetensors files whose metadata carries the recipe they were trained with.
"""
from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from ganrun.errors import UserError

CHECKPOINT_FORMAT = "ganrun-checkpoint/1"
CHECKPOINT_DIR = "checkpoints"  # inside a run folder
GENERATOR_DIR = "generator"  # inside a run folder, and the run's MLflow artifact folder
GENERATOR_FORMAT = "ganrun-generator/1"


def atomic_write(path: Path, write) -> Path:
    """Call ``write(tmp_path)`` then rename over ``path``: a kill never leaves half a file."""
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
    return path


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
    """Write ``state`` (plus the format marker) atomically to ``path``."""
    payload = {"format": CHECKPOINT_FORMAT, **state}
    return atomic_write(Path(path), lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(f"{path}: not a readable ganrun checkpoint ({type(e).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path}: not a ganrun checkpoint")
    return state


def checkpoint_name(epoch: int) -> str:
    return f"ckpt-epoch{epoch:04d}.pt"


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The checkpoint of the highest epoch in ``folder`` (temp files of a killed write ignored)."""
    found = sorted(Path(folder).glob("ckpt-epoch*.pt"))
    return found[-1] if found else None


# ------------------------------------------------------------------ generators
def export_generator(path: str | Path, generator: nn.Module, recipe_yaml: str, network: str,
                     role: str = "generator") -> Path:
    """Save ``generator``'s weights as safetensors, the recipe in the file's metadata.

    ``role`` (``generator`` or ``discriminator``) says which role hook rebuilds the network
    when the file is loaded (a classifier is built as a discriminator)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    meta = {"format": GENERATOR_FORMAT, "network": network, "recipe": recipe_yaml, "role": role}
    return atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata=meta))


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
    if meta.get("format") != GENERATOR_FORMAT:
        raise UserError(f"{path}: not a ganrun generator (no '{GENERATOR_FORMAT}' metadata)")
    return meta


def read_generator(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Weights and metadata of an exported generator; refuses any other file."""
    meta = read_generator_meta(path)
    try:
        return load_file(str(path)), meta
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"{path}: not a ganrun generator ({type(e).__name__})") from None
