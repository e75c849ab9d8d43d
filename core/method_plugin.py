"""MethodPlugin: the base of a plugin that provides one training method.

It answers every role hook for its own method (``recipe.method == self.name``) and returns
``None`` for any other, so a method plugin only writes what its method builds::

    class MyGAN(MethodPlugin):
        name, schema = "mygan", MyConfig

        def generator(self, recipe, name): ...
        def discriminator(self, recipe, name): ...
        def losses(self, recipe): ...
        def trainer(self, recipe, generators, discriminators, losses, device): ...
        def sample(self, recipe, generator, n, seed, label): ...
        def translator(self, recipe, generators, target): ...   # image-to-image only

    plugin = MyGAN()   # the entry point names this object: "my_pkg.plugin:plugin"

A method built on another subclasses that method's plugin and overrides what differs.
Plugins that answer a single role for someone else's method write plain hook functions.
"""
from __future__ import annotations

from typing import Any

from ganrun import hookimpl
from ganrun.registry import MethodInfo


class MethodPlugin:
    name: str = ""
    schema: type = object  # dataclass: the recipe's ``model`` section
    generators: tuple[str, ...] = ("G",)
    discriminators: tuple[str, ...] = ("D",)
    translate_example: str = ""  # a ``--to`` target, for a method that writes translator()
    description: str = ""
    # the method's own eval/... keys (fnmatch patterns) whose best is the lowest / highest
    lower_is_better: frozenset[str] = frozenset()
    higher_is_better: frozenset[str] = frozenset()

    # ------------------------------------------------------------ what a method writes
    def generator(self, recipe: Any, name: str) -> Any:
        raise NotImplementedError

    def discriminator(self, recipe: Any, name: str) -> Any:
        raise NotImplementedError

    def losses(self, recipe: Any) -> dict[str, Any]:
        raise NotImplementedError

    def trainer(self, recipe: Any, generators: dict, discriminators: dict, losses: dict,
                device: Any) -> Any:
        raise NotImplementedError

    def sample(self, recipe: Any, generator: Any, n: int, seed: int, label: int | None) -> Any:
        raise NotImplementedError

    def translator(self, recipe: Any, generators: Any, target: str) -> Any:
        """A :class:`ganrun.translate.Translator` for ``target``; None: translates nothing."""
        return None

    # ------------------------------------------------------------ the hooks, answered for self.name
    def _mine(self, recipe: Any) -> bool:
        return recipe.method == self.name

    @hookimpl
    def ganrun_register_methods(self) -> list[MethodInfo]:
        return [MethodInfo(self.name, self.schema, self.generators, self.discriminators,
                           self.description, self.translate_example,
                           frozenset(self.lower_is_better), frozenset(self.higher_is_better))]

    @hookimpl
    def ganrun_make_generator(self, recipe, name):
        return self.generator(recipe, name) if self._mine(recipe) else None

    @hookimpl
    def ganrun_make_discriminator(self, recipe, name):
        return self.discriminator(recipe, name) if self._mine(recipe) else None

    @hookimpl
    def ganrun_make_losses(self, recipe):
        return self.losses(recipe) if self._mine(recipe) else None

    @hookimpl
    def ganrun_make_trainer(self, recipe, generators, discriminators, losses, device):
        if not self._mine(recipe):
            return None
        return self.trainer(recipe, generators, discriminators, losses, device)

    @hookimpl
    def ganrun_sample(self, recipe, generator, n, seed, label):
        return self.sample(recipe, generator, n, seed, label) if self._mine(recipe) else None

    @hookimpl
    def ganrun_translator(self, recipe, generators, target):
        return self.translator(recipe, generators, target) if self._mine(recipe) else None
