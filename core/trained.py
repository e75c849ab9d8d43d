"""A trained generator from Python, without the CLI: load it once, then sample or translate.

    from ganrun.trained import load

    gan = load("runs/quickstart/20261202-204923-b4e4de")  # run folder, .safetensors file,
    samples = gan.sample(16, seed=0)                       # MLflow run id or models:/NAME/V
    samples.images                                         # 16 x 1 x 28 x 28 in [-1, 1]

    translator = load("runs/RECIPE/RUN")                   # a method that translates images
    out = translator.translate(images, to="AtoB")          # N x C x H x W in [-1, 1]

The same code paths as ``ganrun sample`` and ``ganrun translate``: the network is rebuilt
from the recipe saved in the file by the method's plugin, and no code is unpickled.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from ganrun.errors import UserError
from ganrun.registry import Registry
from ganrun.sampling import Samples, draw, load_generator, locate, saved_recipe
from ganrun.translate import Translator, translated, translator_at


class Trained:
    """A saved generator file (``path``), the recipe it was trained with (``recipe``), and
    the installed plugins that rebuild and run it."""

    def __init__(self, path: str | Path, pm: Any, registry: Registry, keep: Any = None):
        self.path = Path(path).resolve()  # networks load lazily: a later chdir must not matter
        self.pm, self.registry = pm, registry
        self.recipe = saved_recipe(self.path, registry)
        self._keep = keep  # the temporary folder a downloaded model lives in, while needed
        self._network: torch.nn.Module | None = None

    @property
    def network(self) -> torch.nn.Module:
        """The network the file holds, in eval mode (loaded on first use)."""
        if self._network is None:
            self._network = load_generator(self.path, self.pm, self.registry)[0]
        return self._network

    @property
    def translates(self) -> bool:
        """True for an image-to-image method (``translate``), False for noise (``sample``)."""
        return bool(self.registry.method(self.recipe.method).translate_example)

    def sample(self, n: int = 16, seed: int = 0, label: int | None = None) -> Samples:
        """``n`` images drawn from noise seeded with ``seed`` (``label``: a chosen class of a
        conditional method; None: ``n`` of every class, a grid row each)."""
        if n < 1:
            raise UserError(f"n: {n} must be >= 1")
        with torch.no_grad():
            return draw(self.pm.hook, self.recipe, self.network, n, seed, label)

    def translator(self, to: str) -> Translator:
        """The method's :class:`~ganrun.translate.Translator` to ``to`` (``AtoB``,
        ``thick=1,red=1`` ...): its ``channels`` and ``size`` say how to read images."""
        return translator_at(self.path, self.recipe, to, pm=self.pm, registry=self.registry)

    def translate(self, images: torch.Tensor, to: str) -> torch.Tensor:
        """``images`` (N x C x H x W in [-1, 1], read as ``translator(to)`` says) translated."""
        with torch.no_grad():
            return translated(self.translator(to), images, self.recipe.method)


def load(model: str | Path, tracking_uri: str | None = None) -> Trained:
    """The generator ``model`` names: a ``.safetensors`` file, a run folder, an MLflow run id
    or ``models:/NAME/VERSION`` (from ``tracking_uri``; None: the local ``./mlruns`` store)."""
    from ganrun.plugins import get_plugin_manager

    pm = get_plugin_manager()
    registry = Registry.from_hooks(pm.hook)
    if Path(model).exists():
        return Trained(locate(str(model), "", Path()), pm, registry)
    from ganrun.mlflow_store import default_uri

    keep = tempfile.TemporaryDirectory()  # removed with the Trained that holds it
    path = locate(str(model), tracking_uri or default_uri(), Path(keep.name))
    return Trained(path, pm, registry, keep)
