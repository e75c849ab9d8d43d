"""Recipes: load a YAML file, follow ``extends``, apply ``KEY=VALUE`` overrides, validate.

Validation is strict and happens before anything trains: unknown keys, wrong types,
missing values and out-of-range values are refused with the key path in the message.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf import errors as oc_errors

from ganrun.errors import PluginError, UserError
from ganrun.limits import broken_limit
from ganrun.registry import Registry
from ganrun.schema import RecipeSchema

EXTENDS = "extends"


def read_yaml(path: str | Path, _seen: tuple[Path, ...] = ()) -> DictConfig:
    """Read one recipe file and the files it ``extends`` (paths relative to it), merged."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: recipe file not found")
    resolved = path.resolve()
    if resolved in _seen:
        raise UserError(f"{path}: 'extends' loops back to this file")
    try:
        cfg = OmegaConf.load(path)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{path}: YAML syntax error{where}: {problem}") from None
    if not isinstance(cfg, DictConfig):
        raise UserError(f"{path}: a recipe must be a YAML mapping of keys to values")
    parents = cfg.pop(EXTENDS, None)
    if parents is None:
        return cfg
    if isinstance(parents, str):
        parents = [parents]
    bases = [read_yaml(path.parent / p, _seen + (resolved,)) for p in parents]
    return OmegaConf.merge(*bases, cfg)  # type: ignore[return-value]


def parse_overrides(overrides: Sequence[str]) -> DictConfig:
    """``["train.epochs=3", ...]`` -> a config; values are parsed as YAML."""
    for item in overrides:
        if "=" not in item or item.startswith("="):
            raise UserError(f"argument '{item}': overrides are written KEY=VALUE")
    try:
        return OmegaConf.from_dotlist(list(overrides))
    except oc_errors.OmegaConfBaseException as e:
        raise UserError(f"overrides: {_first_line(e)}") from None


def load_recipe(
    path: str | Path, overrides: Sequence[str] = (), *, registry: Registry
) -> RecipeSchema:
    """Load, merge, override and validate a recipe into typed dataclasses."""
    raw = read_yaml(path)
    raw = OmegaConf.merge(raw, parse_overrides(overrides))
    if not raw.get("name"):
        raw.name = Path(path).stem
    return validate(raw, registry=registry, source=str(path))


def validate(raw: DictConfig | dict, *, registry: Registry, source: str = "recipe") -> RecipeSchema:
    """Check ``raw`` against the core schema, the method's and the dataset's schemas."""
    raw = OmegaConf.create(raw) if isinstance(raw, dict) else raw
    method = raw.get("method")
    if not isinstance(method, str):
        raise UserError(f"{source}: method: missing (the name of a training method)")
    data = raw.get("data")
    dataset = data.get("name") if isinstance(data, DictConfig) else None
    if not isinstance(dataset, str):
        raise UserError(f"{source}: data.name: missing (the name of a dataset)")
    try:
        method_info = registry.method(method)
        dataset_info = registry.dataset(dataset)
    except UserError as e:
        raise UserError(f"{source}: {e}") from None
    base = OmegaConf.structured(
        recipe_schema(registry)(data=dataset_info.schema(), model=method_info.model_schema())
    )
    try:
        recipe = OmegaConf.to_object(OmegaConf.merge(base, raw))
    except oc_errors.OmegaConfBaseException as e:
        key = f"{e.full_key}: " if getattr(e, "full_key", None) else ""
        raise UserError(f"{source}: {key}{_first_line(e)}") from None
    check_limits(recipe, source=source)
    try:
        if recipe.metrics.evaluator:  # type: ignore[attr-defined]
            registry.evaluator(recipe.metrics.evaluator)  # type: ignore[attr-defined]
        for name in recipe.metrics.names:  # type: ignore[attr-defined]
            registry.metric(name)
    except UserError as e:
        raise UserError(f"{source}: {e}") from None
    return recipe  # type: ignore[return-value]


_SCHEMAS: dict[tuple, type] = {}  # one class per set of sections: recipes compare equal


def recipe_schema(registry: Registry) -> type:
    """The core schema plus the sections plugins registered (``ganrun_register_sections``)."""
    if not registry.sections:
        return RecipeSchema
    core = {f.name for f in dataclasses.fields(RecipeSchema)}
    taken = sorted(core & set(registry.sections))
    if taken:
        raise PluginError(f"a plugin registers recipe section '{taken[0]}', which the core uses")
    key = tuple(sorted((name, info.schema) for name, info in registry.sections.items()))
    if key not in _SCHEMAS:
        fields = [(name, schema, dataclasses.field(default_factory=schema)) for name, schema in key]
        _SCHEMAS[key] = dataclasses.make_dataclass("Recipe", fields, bases=(RecipeSchema,))
    return _SCHEMAS[key]


def check_limits(obj: Any, prefix: str = "", source: str = "recipe") -> None:
    """Refuse values outside the limits in the metadata of their field (:mod:`ganrun.limits`)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            check_limits(value, key + ".", source)
            continue
        values = value if isinstance(value, list) else [value]
        for v in values:
            bad = None if v is None else broken_limit(v, f.metadata)
            if bad:
                raise UserError(f"{source}: {key}: {v!r} {bad}")


def to_yaml(recipe: RecipeSchema) -> str:
    """The resolved recipe as YAML: what is saved with every run and every generator."""
    return OmegaConf.to_yaml(OmegaConf.structured(recipe))


def from_yaml_text(text: str, *, registry: Registry, source: str) -> RecipeSchema:
    """Validate a recipe saved with a run or a generator."""
    try:
        raw = OmegaConf.create(text)
    except yaml.YAMLError as e:
        raise UserError(f"{source}: the saved recipe is not valid YAML: {_first_line(e)}") from None
    if not isinstance(raw, DictConfig):
        raise UserError(f"{source}: the saved recipe is not a mapping")
    return validate(raw, registry=registry, source=source)


def _first_line(e: BaseException) -> str:
    msg = getattr(e, "msg", None) or str(e)
    return str(msg).strip().splitlines()[0]
