"""Compare tracked runs: chosen metrics against epoch in one picture, and the runs' table.

``ganrun compare RUN RUN ... [--metric M ...] --out compare.png [--uri URI]``, registered by
the tracking plugin. RUN is a run id, its first characters (as ``ganrun runs`` prints them)
or a run name. One subplot a metric, one line a run, the legend naming each run by its run
name; ``loss/...`` metrics (logged every step) are drawn against the step. Exit 2 with one
line: an unknown run or metric, an output format matplotlib does not write.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any, Sequence

from ganrun import mlflow_store as store
from ganrun.builtin import run_table
from ganrun.builtin.tracking_runs import add_metric_argument, add_store_argument
from ganrun.errors import UserError

FORMATS = (".png", ".pdf", ".svg")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN",
                   help="run id, its first characters, or run name (`ganrun runs` lists them)")
    add_metric_argument(p, "eval/fid_lenet, epoch/gen, loss/disc")
    p.add_argument("--out", required=True, help=f"the plot to write ({', '.join(FORMATS)})")
    add_store_argument(p)


def run(args: argparse.Namespace, pm: Any, registry: Any) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in FORMATS:
        raise UserError(f"--out: {out.name}: write a {', '.join(FORMATS)} file")
    uri = args.uri or store.default_uri()
    mlflow = store.open_store(uri)
    runs = _distinct([store.resolve_run(mlflow, ref) for ref in args.runs])
    metrics = args.metric or run_table.default_metrics(runs, registry)
    logged = sorted({k for r in runs for k in r.data.metrics})
    if not metrics:
        raise UserError(f"--metric: these runs logged no eval/ metric with a best; choose "
                        f"one ({_logged(logged)})")
    for key in metrics:
        if key not in logged:
            raise UserError(f"--metric: no run given logged '{key}' ({_logged(logged)})")
    histories = {key: {label: store.history(mlflow, r.info.run_id, key)
                       for label, r in zip(labels(runs), runs)} for key in metrics}
    plot(histories, out, registry)
    print(run_table.format_table(*run_table.rows(mlflow, runs, metrics, registry)))
    print(f"plot: {out.resolve()}")
    return 0


def _logged(keys: list[str]) -> str:
    """What the runs logged, in a line: the eval/ keys by name, the rest by namespace."""
    evals = [k for k in keys if k.startswith("eval/")]
    spaces = sorted({k.split("/")[0] + "/" for k in keys if k not in evals})
    rest = len(keys) - len(evals)
    if not keys:
        return "they logged no metric"
    return (f"they logged {', '.join(evals) or 'no eval/ metric'}"
            + (f" and {rest} more under {', '.join(spaces)}" if rest else ""))


def _distinct(runs: list[Any]) -> list[Any]:
    """The runs in the order given, each once."""
    seen: dict[str, Any] = {}
    for r in runs:
        seen.setdefault(r.info.run_id, r)
    return list(seen.values())


def labels(runs: Sequence[Any]) -> list[str]:
    """Each run's legend entry: its run name, with the short id where two names are alike."""
    names = [r.info.run_name or r.info.run_id[:8] for r in runs]
    return [f"{n} ({r.info.run_id[:8]})" if names.count(n) > 1 else n
            for n, r in zip(names, runs)]


def plot(histories: dict[str, dict[str, list[tuple[int, float]]]], out: Path,
         registry: Any) -> Any:
    """Draw ``{metric: {run label: [(step, value)]}}``, one subplot a metric, and write it to
    ``out``; returns the matplotlib Figure (its axes hold the legends)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    n = len(histories)
    cols = min(n, 2)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(6.4 * cols, 4.2 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (key, lines) in zip(axes, histories.items()):
        for label, points in lines.items():
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, marker="o", markersize=3, label=label)
        way = registry.better(key)
        ax.set_title(key + (f" ({way} is better)" if way else ""))
        ax.set_xlabel("step" if key.startswith("loss/") else "epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in axes[n:]:
        ax.set_visible(False)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    return fig
