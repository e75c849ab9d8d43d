"""``ganrun sample``: rebuild a saved generator from its recipe and draw from it.

A generator is found from a safetensors file, a run folder, ``models:/NAME/VERSION`` or an
MLflow run id. Loading reads tensors and the recipe text only: no code is unpickled.
"""
from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganrun.checkpoint import GENERATOR_DIR, read_generator, read_generator_meta
from ganrun.errors import PluginError, UserError
from ganrun.recipe import from_yaml_text
from ganrun.registry import Registry


@dataclass
class Samples:
    """What ``ganrun_sample`` returns: images in [-1, 1], their classes, the grid's rows."""

    images: torch.Tensor  # N x C x H x W
    labels: torch.Tensor | None = None  # N class indices, for conditional methods
    nrow: int | None = None  # images per grid row; None: a square grid


def _generator_file(folder: Path) -> Path | None:
    for candidate in (folder / GENERATOR_DIR, folder):
        files = sorted(candidate.glob("*.safetensors")) if candidate.is_dir() else []
        if files:
            return files[0]
    return None


def locate(model: str, tracking_uri: str, workdir: Path) -> Path:
    """The generator file that ``model`` names (downloading it from MLflow if need be)."""
    path = Path(model)
    if path.is_file():
        return path
    if path.is_dir():
        found = _generator_file(path)
        if found is None:
            raise UserError(f"{model}: folder holds no generator (*.safetensors)")
        return found
    from ganrun.mlflow_store import download_generator

    folder = download_generator(model, tracking_uri, workdir)
    found = _generator_file(folder) if folder else None
    if found is None:
        raise UserError(f"MODEL: '{model}' is not a generator file, a run folder, or a run "
                        f"with a generator in {tracking_uri}")
    return found


def saved_recipe(path: Path, registry: Registry, meta: dict | None = None) -> Any:
    """The validated recipe a generator file was trained with (``meta``: its metadata, if
    already read)."""
    meta = read_generator_meta(path) if meta is None else meta
    return from_yaml_text(meta.get("recipe", ""), registry=registry, source=f"{path} (recipe)")


def load_generator(path: Path, pm: Any, registry: Registry) -> tuple[torch.nn.Module, Any]:
    """Rebuild the network from the file's recipe via its role hook; load its weights."""
    tensors, meta = read_generator(path)
    recipe = saved_recipe(path, registry, meta)
    make = (pm.hook.ganrun_make_discriminator if meta.get("role") == "discriminator"
            else pm.hook.ganrun_make_generator)
    net = make(recipe=recipe, name=meta.get("network", "G"))
    if net is None:
        raise PluginError(f"{path}: no installed plugin builds method '{recipe.method}'")
    try:
        net.load_state_dict(tensors)
    except RuntimeError as e:
        raise UserError(f"{path}: weights do not fit the recipe's network: "
                        f"{str(e).splitlines()[0]}") from None
    return net.eval(), recipe


def draw(hook: Any, recipe: Any, generator: torch.nn.Module, n: int, seed: int,
         label: int | None) -> Samples:
    """Ask the method's plugin (through the hook relay) for samples; checks the answer."""
    samples = hook.ganrun_sample(recipe=recipe, generator=generator, n=n, seed=seed, label=label)
    if samples is None:
        raise PluginError(f"no installed plugin answers ganrun_sample for '{recipe.method}'")
    if not isinstance(samples, Samples):
        raise PluginError(f"ganrun_sample for '{recipe.method}' returned "
                          f"{type(samples).__name__}, not ganrun.sampling.Samples")
    return samples


RAW_SUFFIX = ".npz"  # raw samples; the other suffixes are those of GRID_FORMATS


def check_out(out: str | Path) -> Path:
    """``--out`` must name a format by its suffix: a grid (.png, .jpg, .jpeg) or .npz."""
    from ganrun.images import GRID_FORMATS

    out = Path(out)
    if out.suffix.lower() not in (*GRID_FORMATS, RAW_SUFFIX):
        raise UserError(f"--out: '{out}' must end in {', '.join(GRID_FORMATS)} (a grid) "
                        f"or {RAW_SUFFIX} (raw samples)")
    if out.is_dir():
        raise UserError(f"--out: '{out}' is a folder; name the file to write")
    return out


def save_samples(out: str | Path, samples: Samples) -> Path:
    """``.npz``: raw ``images`` (and ``labels``); ``.png``, ``.jpg``: a grid. Written atomically."""
    from ganrun.checkpoint import atomic_write
    from ganrun.images import save_grid

    out = check_out(out)
    if out.suffix.lower() == RAW_SUFFIX:
        arrays = {"images": samples.images.detach().cpu().float().numpy()}
        if samples.labels is not None:
            arrays["labels"] = samples.labels.cpu().numpy()

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a name
                np.savez(f, **arrays)

        return atomic_write(out, write)
    nrow = samples.nrow or math.ceil(math.sqrt(len(samples.images)))
    return save_grid(out, samples.images, nrow=nrow)


def sample(model: str, n: int, seed: int, label: int | None, out: str, *, pm: Any,
           registry: Registry, tracking_uri: str) -> Path:
    """Draw ``n`` images with ``seed`` from ``model``; write a PNG grid or an ``.npz``."""
    if n < 1:
        raise UserError(f"--n: {n} must be >= 1")
    check_out(out)  # before any model is found or loaded
    with tempfile.TemporaryDirectory() as tmp:
        path = locate(model, tracking_uri, Path(tmp))
        net, recipe = load_generator(path, pm, registry)
    return save_samples(out, draw(pm.hook, recipe, net, n, seed, label))
