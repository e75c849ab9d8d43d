"""Plugin validation: what ``ganrun plugins --check`` reports, and what every command skips.

A plugin is broken when it

* fails to import, or pluggy refuses it (a hook taking an argument its spec does not offer);
* defines a ``ganrun_*`` function that is no hook (a misspelt hook: pluggy would ignore an
  unmarked one silently), or a hook function not marked with ``@ganrun.hookimpl``;
* registers a method, dataset, metric, section ... name another plugin registered first,
  an object of the wrong type, or a schema that is not a dataclass;
* answers a role hook (the ``firstresult`` ones) for a method no plugin registered: a role
  hook must return None for a method it does not know, or it would take that role from
  every method, including ones installed later.

:func:`load_plugins` loads every plugin, runs these checks, and leaves the broken ones out,
so one bad package never stops the others; the CLI names each in a one-line warning.
"""
from __future__ import annotations

import difflib
import inspect
from typing import Any

from ganrun import hookspecs
from ganrun.plugins import EVERY_RANK, PluginManager, PluginProblem, get_plugin_manager
from ganrun.registry import Registry

PREFIX = "ganrun_"
HOOKS = frozenset(n for n in dir(hookspecs) if n.startswith(PREFIX))
FLAGS = frozenset({EVERY_RANK})  # module-level settings a plugin may define
STRANGER = "<a method no plugin registered>"  # the method role hooks are asked about


def hook_name_problems(pm: PluginManager, plugin: object) -> list[str]:
    """What is wrong with the ``ganrun_*`` function names of ``plugin``, one phrase each."""
    found = []
    for attr in sorted(n for n in dir(plugin) if n.startswith(PREFIX) and n not in FLAGS):
        if not inspect.isroutine(getattr(plugin, attr, None)):
            continue
        if attr not in HOOKS:
            near = difflib.get_close_matches(attr, HOOKS, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            found.append(f"{attr} is no ganrun hook{hint}")
        elif pm.parse_hookimpl_opts(plugin, attr) is None:  # type: ignore[arg-type]
            found.append(f"{attr} is not marked @ganrun.hookimpl, so it is never called")
    return found


def registry_problems(pm: PluginManager) -> list[PluginProblem]:
    """Registration hooks that fail, clash over a name, or describe a schema badly."""
    found: list[PluginProblem] = []
    Registry.from_hooks(pm.hook, on_problem=lambda p, m: found.append(PluginProblem(p, m)))
    return found


class _StrangerRecipe:
    """The recipe of a method no plugin registered: only ``method`` is set."""

    method = STRANGER

    def __getattr__(self, key: str) -> Any:
        raise AttributeError(f"recipe.{key} read before recipe.method was checked")


# what each argument of a role hook is, when the check asks about a stranger's method
_STRANGER_ARGS = {"recipe": _StrangerRecipe(), "name": "G", "generators": {},
                  "discriminators": {}, "losses": {}, "n": 1, "seed": 0, "target": ""}


def role_problems(pm: PluginManager) -> list[PluginProblem]:
    """Role hooks (``firstresult``) that answer, or fail, for a method no plugin registered."""
    found = []
    for hook in sorted(HOOKS):
        caller = getattr(pm.hook, hook)
        if not (caller.spec and caller.spec.opts.get("firstresult")):
            continue
        for impl in caller.get_hookimpls():
            try:
                answer = impl.function(**{a: _STRANGER_ARGS.get(a) for a in impl.argnames})
            except Exception as e:
                found.append(PluginProblem(impl.plugin_name, (
                    f"plugin '{impl.plugin_name}' fails in {hook} for a method it does not "
                    f"know: {type(e).__name__}: {e}")))
                continue
            if answer is not None:
                found.append(PluginProblem(impl.plugin_name, (
                    f"plugin '{impl.plugin_name}' answers {hook} for a method no plugin "
                    f"registered (returned {type(answer).__name__}): a role hook returns None "
                    f"unless recipe.method is one it knows")))
    return found


def check(pm: PluginManager) -> list[PluginProblem]:
    """Every problem of the plugins ``pm`` tried to load, one line each, naming the plugin."""
    return [*pm.problems, *registry_problems(pm), *role_problems(pm)]


def load_plugins() -> tuple[PluginManager, Registry, list[PluginProblem]]:
    """Every installed plugin that passes :func:`check`, their registry, and the problems of
    the ones left out."""
    pm = get_plugin_manager()
    problems = check(pm)
    for name in dict.fromkeys(p.plugin for p in problems):
        pm.remove(name)
    return pm, Registry.from_hooks(pm.hook), problems
