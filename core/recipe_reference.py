"""The recipe reference (docs/recipe_reference.md), written from the schema dataclasses.

Every key's type and default come from its dataclass field, its limits and its one-line doc
from the field's metadata (:mod:`ganrun.limits`), the same data the recipe validator
checks. The schemas are those of the core and of ganrun's own plugins, found through the
real plugin manager and registry; a third-party plugin's methods, datasets and sections are
left out (they belong in its own docs). ``make docs`` rewrites the file::

    python -m ganrun.recipe_reference docs/recipe_reference.md
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import typing
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from ganrun.limits import DOC, describe_limits
from ganrun.registry import Registry
from ganrun.schema import RecipeSchema

SHIPPED = "ganrun"  # the distribution whose plugins the reference describes
MISSING = "???"  # OmegaConf's mark of a value the recipe must give

HEADER = """\
# Recipe reference

<!-- Generated from the schema dataclasses by `make docs` (python -m ganrun.recipe_reference);
do not edit by hand: tests/test_recipe_reference.py fails when this file is stale. -->

Every key a recipe may set, with its type, default, limits and meaning, for the core and
the plugins that ship with ganrun. A recipe is checked against these schemas before anything
trains: an unknown key, a wrong type or a value outside its limits is refused with the key
in a one-line error (exit code 2). A list's limits apply to each of its elements. A recipe
may start with `extends: other.yaml` (a path relative to it, or a list of them) and override
what it takes; `KEY=VALUE` arguments override any key (`train.epochs=3`). How recipes,
commands and docs fit together: [index.md](index.md).
"""


def shipped_registry() -> Registry:
    """The registry of ganrun's own plugins: every installed plugin loaded through the real
    plugin manager, then those of other distributions (and ``GANRUN_PLUGINS``) unregistered."""
    from ganrun.plugins import get_plugin_manager

    pm = get_plugin_manager()
    for record in pm.records:
        if record.distribution != SHIPPED:
            pm.unregister(name=record.name)
    return Registry.from_hooks(pm.hook)


def type_name(hint: Any) -> str:
    """A field's type as the reference writes it: ``int``, ``str or null``, ``list of float``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return " or ".join(type_name(a) for a in rest) + " or null"
    if origin in (list, typing.List):
        return f"list of {type_name(args[0])}" if args else "list"
    if hint is Any:
        return "section"
    return getattr(hint, "__name__", str(hint))


def value_text(value: Any) -> str:
    """A default as YAML writes it: ``null``, ``true``, ``[0.5, 0.999]``, ``""``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if value == "":
        return '""'
    return str(value)


def default_of(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def doc_of(schema: type, name: str) -> str:
    """The field's doc; a field that overrides a base class's field without one keeps the
    base's (every dataset's ``name`` reads as :class:`ganrun.schema.DataConfig`'s)."""
    for cls in schema.__mro__:
        fields = getattr(cls, "__dataclass_fields__", {})
        if name in fields and fields[name].metadata.get(DOC):
            return fields[name].metadata[DOC]
    return ""


def class_doc(schema: type) -> str:
    """The schema's docstring, first paragraph, or "" where it has none of its own (a
    dataclass without a docstring gets its signature as ``__doc__``)."""
    doc = schema.__dict__.get("__doc__") or ""
    if doc.startswith(f"{schema.__name__}("):
        return ""
    return " ".join(doc.strip().split("\n\n")[0].split()).replace("``", "`")


def keys(schema: type, prefix: str, skip: tuple[str, ...] = ()
         ) -> Iterator[tuple[str, str, str, str, str]]:
    """``(key, type, default, limits, doc)`` of every key of ``schema`` but ``skip``, nested
    sections flattened (``metrics.fid.feature``), in declaration order."""
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        if f.name in skip:
            continue
        default = default_of(f)
        if dataclasses.is_dataclass(default):
            yield from keys(type(default), f"{prefix}{f.name}.")
            continue
        shown = "(required)" if default == MISSING else f"`{value_text(default)}`"
        yield (f"{prefix}{f.name}", type_name(hints[f.name]), shown,
               describe_limits(f.metadata), doc_of(schema, f.name))


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell: ``|`` escaped, ``<`` not read as HTML."""
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text.replace("|", "\\|"))


def table(schema: type, prefix: str, skip: tuple[str, ...] = ()) -> list[str]:
    """A Markdown table of the keys of ``schema`` under ``prefix``."""
    lines = ["| key | type | default | limits | meaning |", "|---|---|---|---|---|"]
    for key, kind, default, limits, doc in keys(schema, prefix, skip):
        lines.append(f"| `{key}` | {kind} | {_cell(default)} | {_cell(limits)} | {_cell(doc)} |")
    return lines


class Part(NamedTuple):
    """One table of the reference: a schema whose keys start with ``prefix``."""

    group: str  # the heading this part's heading stands under ("" for the core sections)
    heading: str
    texts: list[str]  # paragraphs before the table
    schema: type
    prefix: str
    skip: tuple[str, ...] = ()  # fields shown elsewhere


GROUPS = {
    "model": "## `model`: one schema per method\n\n"
             "`method: NAME` selects the schema of the `model` section.",
    "data": "## `data`: one schema per dataset\n\n"
            "`data.name: NAME` selects the schema of the `data` section.",
    "sections": "## Sections plugins add",
}


def parts(registry: Registry) -> list[Part]:
    """Every table of the reference, in order: the top level, each core section, each
    method's ``model``, each dataset's ``data``, each plugin section."""
    core = [f for f in dataclasses.fields(RecipeSchema) if dataclasses.is_dataclass(default_of(f))]
    found = [Part("", "## Top level", [class_doc(RecipeSchema)], RecipeSchema, "",
                  tuple(f.name for f in core))]
    found += [Part("", f"## `{f.name}`", [class_doc(type(default_of(f)))],
                   type(default_of(f)), f"{f.name}.") for f in core]
    found += [Part("model", f"### `method: {name}`",
                   [info.description, class_doc(info.model_schema)], info.model_schema, "model.")
              for name, info in sorted(registry.methods.items())]
    found += [Part("data", f"### `data.name: {name}`", [info.description], info.schema, "data.")
              for name, info in sorted(registry.datasets.items())]
    found += [Part("sections", f"### `{name}`", [info.description, class_doc(info.schema)],
                   info.schema, f"{name}.") for name, info in sorted(registry.sections.items())]
    return found


def render(registry: Registry) -> str:
    """The whole reference for the methods, datasets and sections of ``registry``."""
    lines, group = [HEADER], ""
    for part in parts(registry):
        if part.group != group:
            group = part.group
            lines += [GROUPS[group], ""]
        paragraphs = [line for text in part.texts if text for line in (text, "")]
        lines += [part.heading, "", *paragraphs, *table(part.schema, part.prefix, part.skip), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ganrun.recipe_reference",
                                description="Write the recipe reference from the schemas.")
    p.add_argument("out", nargs="?", help="the Markdown file to write (default: stdout)")
    args = p.parse_args(argv)
    text = render(shipped_registry())
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
