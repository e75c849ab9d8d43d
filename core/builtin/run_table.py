"""The table of tracked runs that ``ganrun runs`` and ``ganrun compare`` print.

One row a run: short id, name, status, method, key parameters (epochs, batch size, learning
rates, adversarial loss), health, and for each chosen metric its last value and its best
with the epoch it was reached (``min`` or ``max``, as the plugin reporting the metric says
its direction: ``MethodInfo`` / ``MetricInfo`` ``lower_is_better`` / ``higher_is_better``).
"""
from __future__ import annotations

from typing import Any, Sequence

from ganrun import mlflow_store as store

DEFAULT_METRICS = 4  # at most this many metrics when none are chosen: the table stays readable
BEST = {"lower": ("min", min), "higher": ("max", max)}


def default_metrics(runs: Sequence[Any], registry: Any, n: int = DEFAULT_METRICS) -> list[str]:
    """The ``eval/`` metrics these runs logged that have a best, in the registry's order
    (the method's own, then fid_lenet, fid, kid, modes ...), at most ``n``."""
    logged = {k for r in runs for k in r.data.metrics if k.startswith("eval/")}
    ranked = [k for k in logged if registry.better(k)]
    return sorted(ranked, key=lambda k: (registry.rank(k), k))[:n]


def key_params(params: dict[str, str]) -> dict[str, str]:
    """The parameters that tell runs apart at a glance, from a run's flattened recipe."""
    rates = {k.rpartition(".")[2]: v for k, v in sorted(params.items())
             if k.startswith("model.") and _is_rate(k.rpartition(".")[2])}
    lr = (next(iter(rates.values())) if len(set(rates.values())) == 1
          else " ".join(f"{k}={v}" for k, v in rates.items()))
    return {"EPOCHS": params.get("train.epochs", "-"),
            "BATCH": params.get("train.batch_size", "-"),
            "LR": lr or "-",
            "LOSS": params.get("model.loss") or params.get("model.gan_mode") or "-"}


def _is_rate(name: str) -> bool:
    return name == "lr" or name.startswith("lr_") or name.endswith("_lr")


def best(points: list[tuple[int, float]], way: str) -> tuple[int, float] | None:
    """The (step, value) of the best point, the earliest among equals; None without points."""
    if not points:
        return None
    pick = BEST[way][1]
    value = pick(v for _, v in points)
    return next(p for p in points if p[1] == value)


def rows(mlflow: Any, runs: Sequence[Any], metrics: Sequence[str], registry: Any,
         experiment_names: dict[str, str] | None = None) -> tuple[list[str], list[list[str]]]:
    """The table's header and one row a run. ``experiment_names`` (id -> name): add an
    EXPERIMENT column, for runs of several experiments."""
    header = ["RUN", "NAME"] + (["EXPERIMENT"] if experiment_names else [])
    header += ["STATUS", "METHOD", "EPOCHS", "BATCH", "LR", "LOSS", "HEALTH"]
    for key in metrics:
        way = registry.better(key)
        header += [_short(key)] + ([BEST[way][0]] if way else [])
    table = []
    for run in runs:
        tags, params = run.data.tags, run.data.params
        row = [run.info.run_id[:8], run.info.run_name or "-"]
        if experiment_names:
            row.append(experiment_names.get(run.info.experiment_id, run.info.experiment_id))
        row += [run.info.status, tags.get("ganrun.method", "-"), *key_params(params).values(),
                tags.get("health.status", "-")]
        for key in metrics:
            last = run.data.metrics.get(key)
            row.append("-" if last is None else f"{last:.4g}")
            way = registry.better(key)
            if way:
                found = best(store.history(mlflow, run.info.run_id, key), way) if last is not None else None
                row.append("-" if found is None else f"{found[1]:.4g} @{found[0]}")
        table.append(row)
    return header, table


def _short(key: str) -> str:
    """``eval/fid_lenet`` -> ``fid_lenet``: the table's columns are eval metrics by default."""
    return key[len("eval/"):] if key.startswith("eval/") else key


def format_table(header: list[str], table: list[list[str]]) -> str:
    """Columns aligned, two spaces apart."""
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *table]]
    return "\n".join(lines)
