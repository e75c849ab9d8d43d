"""Names -> methods and datasets, filled from the plugins' registration hooks."""
from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass, field
from typing import Any, Callable

from ganrun.errors import PluginError, UserError


@dataclass(frozen=True)
class MethodInfo:
    """A training method a recipe selects with ``method: NAME``."""

    name: str
    model_schema: type  # dataclass: the schema of the recipe's ``model`` section
    generators: tuple[str, ...] = ("G",)
    discriminators: tuple[str, ...] = ("D",)
    description: str = ""
    # a ``ganrun translate --to`` target (e.g. "AtoB") for a method that answers
    # ``ganrun_translator``; empty: the method samples from noise (``ganrun sample``)
    translate_example: str = ""
    # the method's own ``eval/...`` keys whose best value is the lowest / the highest
    # (fnmatch patterns: "eval/attr_acc*"); ``ganrun runs`` and ``compare`` pick bests by them
    lower_is_better: frozenset[str] = frozenset()
    higher_is_better: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset a recipe selects with ``data.name``."""

    name: str
    schema: type  # dataclass: the schema of the recipe's ``data`` section
    load: Callable[[Any, str], Any]  # (data cfg, split) -> torch Dataset
    description: str = ""


@dataclass(frozen=True)
class EvaluatorInfo:
    """A trained network that measures samples (a recipe's ``metrics.evaluator``)."""

    name: str
    load: Callable[[], Any]  # () -> evaluator module (logits, features, num_classes, ...)
    train: Callable[[Any], dict] | None = None  # (out_dir) -> how it was made (JSON-able)
    description: str = ""


@dataclass(frozen=True)
class MetricInfo:
    """A sample-quality metric (a name in the recipe's ``metrics.names``)."""

    name: str
    # (evaluator, real MeasuredSet) -> fn(fake MeasuredSet) -> {"eval/...": value}
    make: Callable[[Any, Any], Callable[[Any], dict[str, float]]]
    description: str = ""
    # which of the keys ``make`` reports are best lowest / highest (a key in neither, such
    # as one best when closest to a reference, has no best)
    lower_is_better: frozenset[str] = frozenset()
    higher_is_better: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MonitorInfo:
    """A health monitor: a class built from the recipe's ``health`` section (a
    :class:`ganrun.health.HealthConfig`) with ``observe_step`` (fed every step) or
    ``observe_eval`` (fed every evaluation), returning :class:`ganrun.health.Alarm` s."""

    name: str
    monitor: type
    description: str = ""


@dataclass(frozen=True)
class SectionInfo:
    """A top-level recipe section a plugin adds (``myplug:``, say), validated by ``schema``."""

    name: str
    schema: type  # dataclass with defaults: the section's keys, types and limits
    description: str = ""


@dataclass(frozen=True)
class CommandInfo:
    """A ``ganrun NAME ...`` command a plugin adds (``ganrun myplug ...``)."""

    name: str
    add_arguments: Callable[[Any], None]  # (argparse parser) -> None
    run: Callable[[Any, Any, Any], int]  # (parsed args, plugin manager, registry) -> exit code
    description: str = ""


@dataclass(frozen=True)
class ImporterInfo:
    """A converter of another project's weights into a ganrun generator (``ganrun import``)."""

    name: str
    # (source path, out path, network or None) -> the written ganrun generator file
    convert: Callable[[Any, Any, Any], Any]
    description: str = ""


@dataclass
class Registry:
    methods: dict[str, MethodInfo] = field(default_factory=dict)
    datasets: dict[str, DatasetInfo] = field(default_factory=dict)
    evaluators: dict[str, EvaluatorInfo] = field(default_factory=dict)
    metrics: dict[str, MetricInfo] = field(default_factory=dict)
    monitors: dict[str, MonitorInfo] = field(default_factory=dict)
    importers: dict[str, ImporterInfo] = field(default_factory=dict)
    sections: dict[str, SectionInfo] = field(default_factory=dict)
    commands: dict[str, CommandInfo] = field(default_factory=dict)
    archives: dict[str, Any] = field(default_factory=dict)  # name -> data.download.ArchiveSpec

    @classmethod
    def from_hooks(cls, hook: Any,
                   on_problem: Callable[[str, str], None] | None = None) -> "Registry":
        """The registry the registration hooks describe.

        A description that breaks the contract (a hook that fails, an object of the wrong
        type, a name another plugin registered first, a schema that is not a dataclass)
        raises :class:`PluginError`; given ``on_problem(plugin, message)``, it is reported
        there and left out, and the rest is registered.
        """
        from ganrun.data.download import ArchiveSpec  # stdlib only: keeps the registry light

        def refuse(plugin: str, message: str) -> None:
            if on_problem is None:
                raise PluginError(message)
            on_problem(plugin, message)

        reg = cls()
        owners: dict[tuple[str, str], str] = {}  # (kind, name) -> the plugin that has it
        for kind, caller, expected in (
            ("methods", hook.ganrun_register_methods, MethodInfo),
            ("datasets", hook.ganrun_register_datasets, DatasetInfo),
            ("evaluators", hook.ganrun_register_evaluators, EvaluatorInfo),
            ("metrics", hook.ganrun_register_metrics, MetricInfo),
            ("monitors", hook.ganrun_register_monitors, MonitorInfo),
            ("importers", hook.ganrun_register_importers, ImporterInfo),
            ("sections", hook.ganrun_register_sections, SectionInfo),
            ("commands", hook.ganrun_register_commands, CommandInfo),
            ("archives", hook.ganrun_register_archives, ArchiveSpec),
        ):
            table = getattr(reg, kind)
            for impl in caller.get_hookimpls():
                plugin, what = impl.plugin_name, kind[:-1]
                try:
                    infos = list(impl.function() or [])
                except Exception as e:
                    refuse(plugin, f"plugin '{plugin}' failed in ganrun_register_{kind}: "
                                   f"{type(e).__name__}: {e}")
                    continue
                for info in infos:
                    said = f"plugin '{plugin}' registers {what} '{getattr(info, 'name', '?')}'"
                    if not isinstance(info, expected):
                        refuse(plugin, f"plugin '{plugin}' broke ganrun_register_{kind}: returned "
                                       f"{type(info).__name__}, expected {expected.__name__}")
                    elif info.name in table:
                        refuse(plugin, f"{said}, which another plugin "
                                       f"('{owners[kind, info.name]}') already registered")
                    elif _not_monitor(info):
                        refuse(plugin, f"{said} with {_not_monitor(info)}, which has neither "
                                       f"observe_step nor observe_eval")
                    elif _not_dataclass(info):
                        refuse(plugin, f"{said} with {_not_dataclass(info)}, which is not a "
                                       f"dataclass")
                    elif _both_ways(info):
                        refuse(plugin, f"{said} saying both lower and higher is better for "
                                       f"{_both_ways(info)}")
                    else:
                        table[info.name] = info
                        owners[kind, info.name] = plugin
        return reg

    def method(self, name: str, key: str = "method") -> MethodInfo:
        return _lookup(self.methods, name, key, "method")

    def dataset(self, name: str, key: str = "data.name") -> DatasetInfo:
        return _lookup(self.datasets, name, key, "dataset")

    def evaluator(self, name: str, key: str = "metrics.evaluator") -> EvaluatorInfo:
        return _lookup(self.evaluators, name, key, "evaluator")

    def metric(self, name: str, key: str = "metrics.names") -> MetricInfo:
        return _lookup(self.metrics, name, key, "metric")

    def importer(self, name: str, key: str = "FORMAT") -> ImporterInfo:
        return _lookup(self.importers, name, key, "importer")

    def better(self, key: str) -> str | None:
        """Which way metric ``key`` improves, as the method or metric reporting it says:
        ``"lower"``, ``"higher"``, or None when no plugin says."""
        found = self._direction(key)
        return found[1] if found else None

    def rank(self, key: str) -> int:
        """Where the plugin that gives ``key`` its direction was registered (methods first,
        then metrics): a stable order for listing metrics. Keys without one come last."""
        found = self._direction(key)
        return found[0] if found else len(self.methods) + len(self.metrics)

    def _direction(self, key: str) -> tuple[int, str] | None:
        for i, info in enumerate((*self.methods.values(), *self.metrics.values())):
            for way, patterns in (("lower", info.lower_is_better),
                                  ("higher", info.higher_is_better)):
                if any(fnmatch.fnmatchcase(key, p) for p in patterns):
                    return i, way
        return None


def _not_dataclass(info: Any) -> str:
    """``"FIELD=VALUE"`` of the first schema field of ``info`` that is no dataclass type, or ""."""
    for f in dataclasses.fields(info):
        value = getattr(info, f.name)
        if f.name.endswith("schema") and not (isinstance(value, type)
                                              and dataclasses.is_dataclass(value)):
            return f"{f.name}={getattr(value, '__name__', repr(value))}"
    return ""


def _both_ways(info: Any) -> str:
    """A metric key ``info`` lists as best both lowest and highest, or ""."""
    both = set(getattr(info, "lower_is_better", ())) & set(getattr(info, "higher_is_better", ()))
    return ", ".join(sorted(both))


def _not_monitor(info: Any) -> str:
    """``"monitor=NAME"`` when ``info`` is a MonitorInfo whose class cannot be fed, or ""."""
    if not isinstance(info, MonitorInfo):
        return ""
    cls = info.monitor
    if isinstance(cls, type) and (hasattr(cls, "observe_step") or hasattr(cls, "observe_eval")):
        return ""
    return f"monitor={getattr(cls, '__name__', repr(cls))}"


def _lookup(table: dict, name: str, key: str, what: str):
    if name not in table:
        known = ", ".join(sorted(table)) or "none installed"
        raise UserError(f"{key}: unknown {what} '{name}' (known: {known})")
    return table[name]
