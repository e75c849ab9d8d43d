"""The plugin manager: loads every plugin from the ``ganrun`` entry-point group."""
from __future__ import annotations

import importlib
import importlib.metadata as md
import os
from dataclasses import dataclass

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


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus a record of where each plugin came from."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []

    def add(self, plugin: object, name: str, distribution: str = "", version: str = "",
            source: str = "") -> None:
        """Register ``plugin`` and check its hook names and arguments against the specs."""
        try:
            self.register(plugin, name=name)
            self.check_pending()
        except pluggy.PluginValidationError as e:
            self.unregister(name=name) if self.has_plugin(name) else None
            raise PluginError(f"plugin '{name}' breaks a hook contract: {e}") from None
        source = source or getattr(plugin, "__name__", type(plugin).__name__)
        self.records.append(PluginRecord(name, source, distribution, version))

    def hooks_of(self, name: str) -> list[str]:
        """Names of the hooks the plugin ``name`` implements."""
        plugin = self.get_plugin(name)
        return sorted(c.name for c in self.get_hookcallers(plugin) or [])

    def load_entry_points(self) -> None:
        """Import and register every plugin of the ``ganrun`` entry-point group."""
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if self.has_plugin(ep.name):
                continue
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            try:
                plugin = ep.load()
            except Exception as e:  # any import failure: name the plugin, one line
                raise PluginError(
                    f"plugin '{ep.name}' ({ep.value}, from {dist} {version}) failed to "
                    f"import: {type(e).__name__}: {e}"
                ) from None
            self.add(plugin, ep.name, dist, version, ep.value)


    def load_env_plugins(self, spec: str) -> None:
        """Import and register the modules named in ``GANRUN_PLUGINS`` (comma-separated)."""
        for module in filter(None, (m.strip() for m in spec.split(","))):
            try:
                plugin = importlib.import_module(module)
            except Exception as e:
                raise PluginError(f"plugin '{module}' (from {ENV_VAR}) failed to import: "
                                  f"{type(e).__name__}: {e}") from None
            self.add(plugin, module, ENV_VAR, "-")


def get_plugin_manager() -> PluginManager:
    """A manager with every installed plugin loaded, then those ``GANRUN_PLUGINS`` names.

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
