"""``ganrun translate``: run a saved image-to-image generator over image files.

The method's registration says which generator translates each direction
(``MethodInfo.translations``); the generator is found like ``ganrun sample`` finds one
(a file, a run folder, an MLflow run id or ``models:/NAME/V``) and rebuilt from its recipe.
Inputs are resized to the recipe's ``data.crop_size`` where it has one.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from ganrun.checkpoint import read_generator_meta
from ganrun.errors import UserError
from ganrun.images import IMAGE_SUFFIXES, read_image, save_image
from ganrun.recipe import from_yaml_text
from ganrun.registry import Registry
from ganrun.sampling import load_generator, locate


def input_files(spec: str | Path) -> list[Path]:
    """An image file, or the image files of a folder (sorted)."""
    path = Path(spec)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            return files
        raise UserError(f"--input: {path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    raise UserError(f"--input: {path} not found")


def generator_for(path: Path, direction: str, registry: Registry) -> Path:
    """The file of the generator that translates ``direction``: ``path`` or its sibling."""
    meta = read_generator_meta(path)
    recipe = from_yaml_text(meta.get("recipe", ""), registry=registry, source=f"{path} (recipe)")
    table = registry.method(recipe.method).translations
    if not table:
        raise UserError(f"{path}: method '{recipe.method}' samples from noise and translates "
                        f"nothing; use ganrun sample")
    if direction not in table:
        raise UserError(f"--direction: '{direction}' is not one of {', '.join(table)}")
    wanted = table[direction]
    if meta.get("network") == wanted:
        return path
    sibling = path.with_name(f"{wanted}.safetensors")
    if sibling.is_file():
        return sibling
    raise UserError(f"{path} holds {meta.get('network')}; --direction {direction} needs "
                    f"{wanted}, not found beside it")


def in_channels(net: torch.nn.Module) -> int:
    first = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    return first.in_channels


def translate(model: str, direction: str, inputs: str, out: str, *, pm: Any,
              registry: Registry, tracking_uri: str) -> list[Path]:
    """Translate every input image; write ``OUT/<name>.png`` for each; return the paths."""
    files = input_files(inputs)
    with tempfile.TemporaryDirectory() as tmp:
        path = generator_for(locate(model, tracking_uri, Path(tmp)), direction, registry)
        net, recipe = load_generator(path, pm, registry)
    size, channels = getattr(recipe.data, "crop_size", None), in_channels(net)
    written = []
    with torch.no_grad():
        for f in files:
            try:
                image = read_image(f, channels, size)
            except OSError as e:
                raise UserError(f"--input: {f}: not a readable image ({type(e).__name__})") from None
            written.append(save_image(Path(out) / f"{f.stem}.png", net(image.unsqueeze(0))[0]))
    return written
