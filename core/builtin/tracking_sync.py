"""Upload what a run's tracking server did not take (RUN_DIR/tracking/pending.jsonl).

``ganrun sync RUN_DIR [--tracking-uri URI]``, registered by the tracking plugin: sends the
run folder's pending records (metric points with their original timestamps, params, tags,
artifacts, the final status) to the MLflow run they belong to, in the order they were
logged, and removes them from the run folder once the server took them. Sending a record
twice does not duplicate it (see :mod:`ganrun.tracking_outbox`), so a sync cut short is
simply run again. Exit 2 with one line: not a run folder, or the server does not answer.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ganrun import tracking_outbox as ob
from ganrun.errors import UserError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="the run folder (`ganrun` printed it)")
    p.add_argument("--tracking-uri", default=None,
                   help="send to this MLflow server instead of the one the run used "
                        "(it must hold the run: a server moved to a new address)")


def run(args: argparse.Namespace, pm: Any, registry: Any) -> int:
    from ganrun import mlflow_store as store
    from ganrun.runs import read_info

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UserError(f"RUN_DIR: {run_dir} is not a folder")
    read_info(run_dir)  # refuses a folder that is not a run's
    box = ob.Outbox(run_dir)
    if not box.records:
        print(f"{run_dir}: nothing pending")
        return 0
    uri = args.tracking_uri or box.uri
    if not uri or not box.run_id:
        raise UserError(f"RUN_DIR: {box.folder / ob.TARGET} is missing or unreadable: "
                        f"which server and run the records belong to is unknown")
    store.check_server(uri, key="ganrun sync")
    client = store.client(uri)
    try:
        sent = ob.replay(box, client, box.run_id, store.register_generator)
    except Exception as e:
        box.settle()
        if not ob.is_transient(e):
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            raise UserError(f"ganrun sync: {uri} refused run {box.run_id}'s records ({first}); "
                            f"{box.counts().describe()} still in {box.path}") from None
        raise UserError(f"ganrun sync: the tracking server at {uri} stopped answering; "
                        f"{box.counts().describe()} still in {box.path}: run it again") from None
    box.settle()
    print(f"uploaded to {uri}, run {box.run_id}: {sent.describe()}")
    for path in sent.gone:
        print(f"  not uploaded, gone from the run folder: {path}")
    return 0
