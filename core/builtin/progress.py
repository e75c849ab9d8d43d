"""Built-in plugin: a progress bar per epoch with the current losses (tqdm, on stderr)."""
from __future__ import annotations

import sys

from tqdm import tqdm

from ganrun import hookimpl

_bars: dict[int, tqdm] = {}


def _fmt(values: dict[str, float]) -> dict[str, str]:
    return {k.split("/")[-1]: f"{v:.4g}" for k, v in values.items()}


@hookimpl
def ganrun_epoch_start(run, epoch, steps):
    _bars[id(run)] = tqdm(total=steps, initial=run.batch,  # a run resumed inside the epoch
                          desc=f"epoch {epoch}/{run.recipe.train.epochs}",
                          unit="step", file=sys.stderr, dynamic_ncols=True, leave=True,
                          mininterval=0.1 if sys.stderr.isatty() else 10.0)


@hookimpl
def ganrun_step_end(run, losses):
    bar = _bars.get(id(run))
    if bar is not None:
        bar.set_postfix(_fmt(losses), refresh=False)
        bar.update(1)


@hookimpl(trylast=True)  # after the plugins that add metrics (evaluations)
def ganrun_epoch_end(run, report):
    bar = _bars.pop(id(run), None)
    if bar is not None:
        shown = {k: v for k, v in report.metrics.items() if k.startswith(("epoch/", "eval/"))}
        if "time/eval_seconds" in report.metrics:  # what an evaluation costs beside the epoch
            shown.update({k: report.metrics[k] for k in ("time/epoch_seconds", "time/eval_seconds")
                          if k in report.metrics})
        bar.set_postfix(_fmt(shown), refresh=False)
        bar.close()


@hookimpl
def ganrun_run_end(run, status, error):
    bar = _bars.pop(id(run), None)
    if bar is not None:
        bar.close()
