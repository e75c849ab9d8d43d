"""The plugin manager: loads every plugin from the ``ganrun`` entry-point group."""
from __future__ import annotations

import importlib
import importlib.metadata as md
import os
from dataclasses import dataclass
from typing import Callable

import pluggy

from ganrun import PROJECT, hookspecs
from ganrun.errors import PluginError

ENTRY_POINT_GROUP = "ganrun"
ENV_VAR = "GANRUN_PLUGINS"


@dataclass(frozen=True)
class PluginRecord:
    name: str
    module: str
    distribution: str
    version: str


@dataclass(frozen=True)
class PluginProblem:
    """Why the plugin ``plugin`` cannot be used, in one line that names it."""

    plugin: str
    message: str

    def __str__(self) -> str:
        return self.message


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus a record of where each plugin came from.

    The loaders skip a plugin that fails to import or to register and keep the reason in
    ``problems``, so one broken plugin never stops the others (``ganrun.plugin_check``).
    """

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []
        self.problems: list[PluginProblem] = []

    def add(self, plugin: object, name: str, distribution: str = "", version: str = "",
            source: str = "") -> None:
        """Register ``plugin`` and check its hook names and arguments against the specs."""
        from ganrun.plugin_check import hook_name_problems  # it imports this module

        wrong = hook_name_problems(self, plugin)
        if wrong:
            raise PluginError(f"plugin '{name}' breaks a hook contract: {'; '.join(wrong)}")
        try:
            self.register(plugin, name=name)
            self.check_pending()
        except pluggy.PluginValidationError as e:
            self.unregister(name=name) if self.has_plugin(name) else None
            raise PluginError(f"plugin '{name}' breaks a hook contract: "
                              f"{'; '.join(str(e).splitlines())}") from None
        source = source or getattr(plugin, "__name__", type(plugin).__name__)
        self.records.append(PluginRecord(name, source, distribution, version))

    def hooks_of(self, name: str) -> list[str]:
        """Names of the hooks the plugin ``name`` implements."""
        plugin = self.get_plugin(name)
        return sorted(c.name for c in self.get_hookcallers(plugin) or [])

    def remove(self, name: str) -> None:
        """Unregister the plugin ``name`` and forget its record."""
        if self.has_plugin(name):
            self.unregister(name=name)
        self.records = [r for r in self.records if r.name != name]

    def load_entry_points(self) -> None:
        """Import and register every plugin of the ``ganrun`` entry-point group.

        ganrun's own plugins come first, then the installed ones by name: pluggy asks the
        newest first, so an outside plugin's role answer comes before a built-in's.
        """
        def order(ep: md.EntryPoint) -> tuple[bool, str]:
            return (getattr(ep.dist, "name", "") != PROJECT, ep.name)

        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=order):
            if self.has_plugin(ep.name):
                continue
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            self._load(ep.name, ep.load, f"{ep.value}, from {dist} {version}", dist, version,
                       ep.value)

    def load_env_plugins(self, spec: str) -> None:
        """Import and register the modules named in ``GANRUN_PLUGINS`` (comma-separated)."""
        for module in filter(None, (m.strip() for m in spec.split(","))):
            self._load(module, lambda: importlib.import_module(module), f"from {ENV_VAR}",
                       ENV_VAR, "-")

    def _load(self, name: str, load: Callable[[], object], origin: str, distribution: str,
              version: str, source: str = "") -> None:
        """Import one plugin and register it; a failure goes to ``problems``, one line."""
        try:
            plugin = load()
        except Exception as e:  # any import failure: name the plugin, one line
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            self.problems.append(PluginProblem(
                name, f"plugin '{name}' ({origin}) failed to import: {type(e).__name__}: {first}"))
            return
        try:
            self.add(plugin, name, distribution, version, source)
        except PluginError as e:
            self.problems.append(PluginProblem(name, str(e)))


def get_plugin_manager() -> PluginManager:
    """A manager with every installed plugin loaded, then those ``GANRUN_PLUGINS`` names;
    those that failed to import or register are in its ``problems``.

    ``GANRUN_PLUGINS=my_module`` loads a plugin without packaging it, as pytest's
    ``PYTEST_PLUGINS`` does: handy while writing one, and for tests.
    """
    pm = PluginManager()
    pm.load_entry_points()
    pm.load_env_plugins(os.environ.get(ENV_VAR, ""))
    return pm


EVERY_RANK = "ganrun_every_rank"  # a plugin module's flag: call its lifecycle hooks on every rank


class RankHooks:
    """The lifecycle hook relay of a rank other than 0 under torchrun: only plugins that set
    ``ganrun_every_rank = True`` are called (they check ``run.is_main`` before writing);
    the rest (checkpoints, grids, tracking, progress, evaluation, health) run on rank 0."""

    def __init__(self, pm: pluggy.PluginManager):
        self._pm = pm
        self._skip = [p for p in pm.get_plugins() if not getattr(p, EVERY_RANK, False)]

    def __getattr__(self, name: str):
        return self._pm.subset_hook_caller(name, remove_plugins=self._skip)


def lifecycle_hooks(pm: pluggy.PluginManager, is_main: bool):
    """The hook relay the engine calls lifecycle hooks through on this rank."""
    return pm.hook if is_main else RankHooks(pm)
