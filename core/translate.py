"""``ganrun translate``: run a saved image-to-image method over image files.

The generator file is found like ``ganrun sample`` finds one (a file, a run folder, an
MLflow run id or ``models:/NAME/V``); the method's other generators are the files beside it
(``<name>.safetensors``, the layout runs export). The method's plugin answers
``ganrun_translator`` with a :class:`Translator` for the ``--to`` target: the core reads,
batches and writes the images, and never calls a network itself.
"""
from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from ganrun.checkpoint import read_generator_meta
from ganrun.errors import PluginError, UserError
from ganrun.images import IMAGE_SUFFIXES, read_image, save_image
from ganrun.registry import Registry
from ganrun.sampling import load_generator, locate, saved_recipe

BATCH = 16  # images translated per call


@dataclass
class Translator:
    """What ``ganrun_translator`` returns: how to translate, and how to read the inputs."""

    translate: Callable[[torch.Tensor], torch.Tensor]  # N x C x H x W in [-1, 1] -> same range
    channels: int  # input files are read as 1 (grey) or 3 (RGB) channels
    size: int | None = None  # inputs resized (bicubic) to size x size; None: kept as they are


def bad_target(name: str, known: Iterable[str], what: str = "target") -> UserError:
    """The one-line refusal of a ``--to`` value: ``--to: unknown target 'X' (known: ...)``."""
    return UserError(f"--to: unknown {what} '{name}' (known: {', '.join(known)})")


class Generators(Mapping):
    """The method's generators by name, each loaded from its file when first asked for.

    ``path`` holds one of them; the others are ``<name>.safetensors`` beside it, so a
    target that needs one generator needs only that one's file."""

    def __init__(self, path: Path, names: Iterable[str], pm: Any, registry: Registry):
        self.path, self.names, self.pm, self.registry = path, tuple(names), pm, registry
        self.held = read_generator_meta(path).get("network")
        self._loaded: dict[str, torch.nn.Module] = {}

    def file(self, name: str) -> Path:
        return self.path if name == self.held else self.path.with_name(f"{name}.safetensors")

    def __getitem__(self, name: str) -> torch.nn.Module:
        if name not in self.names:
            raise PluginError(f"ganrun_translator asked for generator '{name}'; the method "
                              f"declares {', '.join(self.names)}")
        if name not in self._loaded:
            path = self.file(name)
            if not path.is_file():
                raise UserError(f"{path}: generator '{name}' not found beside {self.path.name} "
                                f"(which holds {self.held})")
            held = read_generator_meta(path).get("network")
            if held != name:
                raise UserError(f"{path}: holds generator '{held}', not '{name}'")
            self._loaded[name] = load_generator(path, self.pm, self.registry)[0]
        return self._loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


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


def translator_for(hook: Any, recipe: Any, generators: Mapping[str, torch.nn.Module],
                   target: str) -> Translator:
    """Ask the method's plugin (through the hook relay) for a Translator; checks the answer."""
    answer = hook.ganrun_translator(recipe=recipe, generators=generators, target=target)
    if answer is None:
        raise PluginError(f"no installed plugin answers ganrun_translator for '{recipe.method}'")
    if not isinstance(answer, Translator) or answer.channels not in (1, 3):
        raise PluginError(f"ganrun_translator for '{recipe.method}' returned {answer!r}, not a "
                          f"ganrun.translate.Translator reading 1 or 3 channels")
    return answer


def _read(f: Path, translator: Translator) -> torch.Tensor:
    try:
        return read_image(f, translator.channels, translator.size)
    except OSError as e:
        raise UserError(f"--input: {f}: not a readable image ({type(e).__name__})") from None


def _batches(files: list[Path], translator: Translator) -> Iterator[list[tuple[Path, torch.Tensor]]]:
    """The inputs, read, in runs of up to ``BATCH`` images of one shape (stackable)."""
    group: list[tuple[Path, torch.Tensor]] = []
    for f in files:
        image = _read(f, translator)
        if group and (len(group) == BATCH or image.shape != group[0][1].shape):
            yield group
            group = []
        group.append((f, image))
    if group:
        yield group


def translator_at(path: Path, recipe: Any, target: str, *, pm: Any,
                  registry: Registry) -> Translator:
    """The Translator to ``target`` of the method that saved generator file ``path`` (trained
    with ``recipe``); the method's other generators are read from beside it when needed."""
    info = registry.method(recipe.method)
    if not info.translate_example:
        raise UserError(f"{path}: method '{recipe.method}' samples from noise and "
                        f"translates nothing; use ganrun sample")
    return translator_for(pm.hook, recipe, Generators(path, info.generators, pm, registry), target)


def translated(translator: Translator, batch: torch.Tensor, method: str) -> torch.Tensor:
    """``translator`` applied to ``batch`` (N x C x H x W in [-1, 1]); checks the answer."""
    out = translator.translate(batch)
    if not isinstance(out, torch.Tensor) or out.dim() != 4 or len(out) != len(batch):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise PluginError(f"the translator of '{method}' returned {got} for a batch of "
                          f"{tuple(batch.shape)}; expected N x C x H x W")
    return out


def translate(model: str, target: str, inputs: str, out: str, *, pm: Any,
              registry: Registry, tracking_uri: str) -> list[Path]:
    """Translate every input image to ``target``; write ``OUT/<stem>.png`` for each."""
    files = input_files(inputs)
    written = []
    with tempfile.TemporaryDirectory() as tmp:  # a downloaded model lives here meanwhile
        path = locate(model, tracking_uri, Path(tmp))
        recipe = saved_recipe(path, registry)
        translator = translator_at(path, recipe, target, pm=pm, registry=registry)
        with torch.no_grad():
            for group in _batches(files, translator):
                batch = torch.stack([image for _, image in group])
                for (f, _), image in zip(group, translated(translator, batch, recipe.method)):
                    written.append(save_image(Path(out) / f"{f.stem}.png", image))
    return written
