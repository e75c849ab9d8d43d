"""Measurement aid for bench/health_suite.py and the thresholds of ganrun.health.config:
every step's ``train_step`` values and every epoch's ``eval/*`` and ``real/*`` metrics,
appended as JSON lines to the file ``GANRUN_RECORD`` names."""
import json
import os

from ganrun import hookimpl

PATH = os.environ.get("GANRUN_RECORD", "steps.jsonl")


def _write(entry: dict) -> None:
    with open(PATH, "a") as f:
        f.write(json.dumps(entry) + "\n")


@hookimpl
def ganrun_step_end(run, losses):
    _write({"step": run.step, **{k: float(v) for k, v in losses.items()}})


@hookimpl(trylast=True)
def ganrun_epoch_end(run, report):
    _write({"epoch": report.epoch, **{k: float(v) for k, v in report.metrics.items()
                                      if k.split("/")[0] in ("eval", "real", "time")}})
