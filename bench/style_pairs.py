"""A ganrun plugin for bench/stargan_vs_cyclegan.py (loaded with GANRUN_PLUGINS=style_pairs).

* dataset ``mnist_style_pair``: two styles of ``mnist_styles`` as CycleGAN's unpaired
  domains A and B (each digit has one style, so the domains share no digit);
* a wall-clock budget: with ``GANRUN_BUDGET_S`` set, a run ends FINISHED (its networks
  exported) after the step that passes it, so each method gets the same time.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from ganrun import hookimpl
from ganrun.registry import DatasetInfo
from ganrun.schema import DataConfig, limit

_started: dict[int, float] = {}


@dataclass
class StylePairConfig(DataConfig):
    name: str = "mnist_style_pair"
    a: str = limit("plain", choices=("plain", "striped", "shadowed", "framed"))
    b: str = limit("striped", choices=("plain", "striped", "shadowed", "framed"))


def load_style_pair(cfg: StylePairConfig, split: str):
    from ganrun.data.mnist_styles import STYLES, MnistStylesConfig, load_mnist_styles
    from ganrun.data.strokes import UnpairedArrays

    styles = load_mnist_styles(MnistStylesConfig(), split)
    a, b = (styles.labels == STYLES.index(cfg.a)), (styles.labels == STYLES.index(cfg.b))
    return UnpairedArrays(styles.images[a], styles.digits[a], styles.images[b], styles.digits[b],
                          train=split == "train")


@hookimpl
def ganrun_register_datasets():
    return [DatasetInfo("mnist_style_pair", StylePairConfig, load_style_pair,
                        "two mnist_styles styles as unpaired domains A and B (bench)")]


@hookimpl
def ganrun_run_start(run):
    _started[id(run)] = time.perf_counter()


@hookimpl
def ganrun_step_end(run, losses):
    budget = float(os.environ.get("GANRUN_BUDGET_S", "0"))
    if budget and time.perf_counter() - _started[id(run)] > budget:
        run.request_stop(f"wall-clock budget of {budget:.0f} s", status="FINISHED", exit_code=0)
