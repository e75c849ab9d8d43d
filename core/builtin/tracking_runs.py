"""List tracked runs as a table: status, method, key parameters, last and best metrics, health.

``ganrun runs [EXPERIMENT] [--metric M ...] [--limit N] [--uri URI]``, registered by the
tracking plugin. Without EXPERIMENT: the newest runs of every experiment that holds ganrun
runs, with an EXPERIMENT column. Exit 2 with one line: no store, no such experiment.
"""
from __future__ import annotations

import argparse
from typing import Any

from ganrun import mlflow_store as store
from ganrun.builtin import run_table
from ganrun.errors import UserError


def add_store_argument(p: argparse.ArgumentParser) -> None:
    """``--uri`` (also ``--tracking-uri``, as ``ganrun sample`` spells it)."""
    p.add_argument("--uri", "--tracking-uri", dest="uri", default=None,
                   help="MLflow store or server (default: the local ./mlruns store)")


def add_metric_argument(p: argparse.ArgumentParser, example: str) -> None:
    p.add_argument("--metric", action="append", default=None, metavar="M",
                   help=f"a logged metric ({example}); repeat for more. Default: up to "
                        f"{run_table.DEFAULT_METRICS} eval/ metrics that have a best")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("experiment", nargs="?", default=None, metavar="EXPERIMENT",
                   help="an experiment's name or id (default: every experiment with ganrun runs)")
    add_metric_argument(p, "eval/fid_lenet")
    p.add_argument("--limit", type=int, default=20, metavar="N",
                   help="the N newest runs (default 20)")
    add_store_argument(p)


def run(args: argparse.Namespace, pm: Any, registry: Any) -> int:
    if args.limit < 1:
        raise UserError(f"--limit: {args.limit} (must be at least 1)")
    uri = args.uri or store.default_uri()
    mlflow = store.open_store(uri)
    if args.experiment is not None:
        experiments = [store.find_experiment(mlflow, args.experiment)]
    else:
        experiments = store.ganrun_experiments(mlflow)
    runs = store.ganrun_runs(mlflow, [e.experiment_id for e in experiments], args.limit)
    where = (f"experiment '{experiments[0].name}'" if args.experiment is not None
             else f"{len(experiments)} experiment(s)")
    if not runs:
        print(f"no ganrun runs in {where} at {uri}")
        return 0
    metrics = args.metric or run_table.default_metrics(runs, registry)
    names = None if args.experiment is not None else {e.experiment_id: e.name for e in experiments}
    print(run_table.format_table(*run_table.rows(mlflow, runs, metrics, registry, names)))
    print(f"{len(runs)} run(s), newest first, of {where} at {uri}")
    return 0
