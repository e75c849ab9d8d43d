"""Run folders: where a run keeps its files, and finding one again to resume or sample."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from ganrun.errors import UserError

RUN_INFO = "run_info.json"
RECIPE_FILE = "recipe.yaml"


def read_info(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / RUN_INFO
    if not path.is_file():
        raise UserError(f"{run_dir}: not a ganrun run folder (no {RUN_INFO})")
    return json.loads(path.read_text())


def _run_dirs(root: Path) -> list[Path]:
    """Every run folder under ``root``, oldest first (folder names start with a timestamp)."""
    return sorted((p.parent for p in root.glob(f"*/*/{RUN_INFO}")), key=lambda p: p.name)


def find_run(spec: str, recipe: Any) -> Path:
    """Resolve ``--resume SPEC``: a run folder, ``latest``, or a run id under ``output.dir``."""
    if Path(spec).is_dir():
        read_info(spec)
        return Path(spec).resolve()
    root = Path(recipe.output.dir)
    if spec == "latest":
        experiment = recipe.track.experiment or recipe.name
        for run_dir in reversed(_run_dirs(root)):
            info = read_info(run_dir)
            if info.get("experiment") == experiment and info.get("status") != "FINISHED":
                return run_dir.resolve()
        raise UserError(f"--resume latest: no unfinished run of experiment '{experiment}' "
                        f"under '{root}'")
    for run_dir in _run_dirs(root):
        if read_info(run_dir).get("id") == spec:
            return run_dir.resolve()
    raise UserError(f"--resume: '{spec}' is neither a run folder nor the id of a run under '{root}'")


def load_run_recipe(run_dir: Path, overrides: Sequence[str], *, registry: Any) -> Any:
    """The recipe a run was started with (authoritative on resume), plus ``overrides``."""
    from omegaconf import OmegaConf

    from ganrun.recipe import parse_overrides, read_yaml, validate

    saved = read_yaml(run_dir / RECIPE_FILE)
    return validate(OmegaConf.merge(saved, parse_overrides(overrides)), registry=registry,
                    source=str(run_dir / RECIPE_FILE))
