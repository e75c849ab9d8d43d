"""The quality benches' shared first half: train a recipe through ganrun, reload its network.

``train(recipe, overrides)`` runs ``ganrun RECIPE OVERRIDES`` in ``bench/out/`` (exiting with
ganrun's code if it fails) and returns a :class:`Trained`: the run's summary, its training
time, the plugin manager and registry, and ``load(file)`` for the exported networks.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Trained:
    summary: dict
    seconds: float
    pm: Any
    registry: Any

    @property
    def output_dir(self) -> Path:
        return Path(self.summary["output_dir"])

    def load(self, name: str | None = None) -> tuple[Any, Any]:
        """The exported network (``name``.safetensors in the export folder) and its recipe."""
        from ganrun.sampling import load_generator

        path = Path(self.summary["generator"])
        return load_generator(path / f"{name}.safetensors" if name else path, self.pm, self.registry)


def train(recipe: str, overrides: Sequence[str]) -> Trained:
    from ganrun.cli import main as ganrun
    from ganrun.plugins import get_plugin_manager
    from ganrun.registry import Registry

    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    os.chdir(out)
    summary_file = f"{Path(recipe).stem}_summary.json"
    started = time.time()
    code = ganrun([str(REPO / "recipes" / recipe), *overrides, "--summary-json", summary_file])
    if code:
        sys.exit(code)
    seconds = time.time() - started
    pm = get_plugin_manager()
    return Trained(json.loads(Path(summary_file).read_text()), seconds, pm,
                   Registry.from_hooks(pm.hook))
