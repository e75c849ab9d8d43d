"""Built-in plugin: checkpoints a run, and exports its networks when it finishes.

A checkpoint is written at the end of every ``train.checkpoint_every`` epochs and of the
last one; inside an epoch every ``train.checkpoint_every_steps`` steps and once
``train.checkpoint_every_minutes`` have passed since the last one; and at the step where a
SIGTERM or Ctrl-C stops the run. Each is saved after every other plugin has seen the step or
the epoch (hook wrappers), so a tracker has logged what the checkpoint says is done:
resuming from it never skips a value. Old checkpoints are pruned only once the new one is
safely on disk: those inside an epoch beyond the newest two files, and the oldest beyond
``train.keep_checkpoints``. A run stopped by a failure (a health alarm) keeps its
last good checkpoint and writes no new one.
"""
from __future__ import annotations

import time
from pathlib import Path

from ganrun import hookimpl
from ganrun.checkpoint import (CHECKPOINT_DIR, GENERATOR_DIR, checkpoint_name, checkpoints,
                               export_generator, save_checkpoint, write_file)

_last: dict[int, float] = {}  # id(run) -> time.monotonic() of its last checkpoint (or start)
_owed: set[int] = set()  # runs whose epoch's last step was due a checkpoint: its end writes it


def _save(run, name: str) -> None:
    folder = run.output_dir / CHECKPOINT_DIR
    path = save_checkpoint(folder / name, run.state_dict())
    found = checkpoints(folder)
    # a checkpoint inside an epoch is a stopgap: beyond the newest two files (the one to
    # resume from and a fallback) it goes, so a multi-day run's 30-minute checkpoints do not
    # fill the disk; epoch checkpoints follow ``keep_checkpoints``
    stale = {p for p in found[:-2] if "-step" in p.name}
    keep = run.recipe.train.keep_checkpoints
    stale.update(found[:-keep] if keep else [])
    for old in sorted(stale):
        old.unlink(missing_ok=True)
    _last[id(run)] = time.monotonic()
    run.hook.ganrun_checkpoint_saved(run=run, path=str(path), epoch=run.epoch)


def _killed(run) -> bool:
    return bool(run.stop_reason) and run.status == "KILLED"


@hookimpl
def ganrun_run_start(run):
    _last[id(run)] = time.monotonic()
    for partial in (run.output_dir / CHECKPOINT_DIR).glob(".ckpt-epoch*.tmp"):
        partial.unlink(missing_ok=True)  # a write a kill interrupted: never a checkpoint


@hookimpl(wrapper=True)
def ganrun_step_end(run, losses):
    result = yield
    train = run.recipe.train
    if run.stop_reason and not _killed(run):  # a failed run keeps its last good checkpoint
        return result
    every, minutes = train.checkpoint_every_steps, train.checkpoint_every_minutes
    due = (_killed(run)
           or bool(every and run.step % every == 0)
           or bool(minutes and time.monotonic() - _last[id(run)] >= 60 * minutes))
    if due and (_killed(run) or run.batch < run.steps_per_epoch):
        _save(run, checkpoint_name(run.epoch + 1, run.step))
    elif due:  # the epoch's last step: its end writes the checkpoint, with the epoch's metrics
        _owed.add(id(run))
    return result


@hookimpl(wrapper=True)
def ganrun_epoch_end(run, report):
    result = yield
    every = run.recipe.train.checkpoint_every
    due = report.epoch == run.recipe.train.epochs or bool(every and report.epoch % every == 0)
    minutes = run.recipe.train.checkpoint_every_minutes
    overdue = bool(minutes and time.monotonic() - _last[id(run)] >= 60 * minutes)
    owed = id(run) in _owed
    _owed.discard(id(run))
    if (due or overdue or owed) and not run.stop_reason:
        _save(run, checkpoint_name(report.epoch))
    return result


@hookimpl
def ganrun_export(run):
    """Export each network the trainer exports as safetensors with its recipe beside it."""
    folder = run.output_dir / GENERATOR_DIR
    generators = run.trainer.generators
    paths = [
        export_generator(folder / f"{name}.safetensors", net, run.recipe_yaml, name,
                         "generator" if name in generators else "discriminator")
        for name, net in run.trainer.exports().items()
    ]
    if not paths:
        return
    text = run.recipe_yaml
    write_file(folder / "recipe.yaml", lambda tmp: Path(tmp).write_text(text), len(text), "recipe")
    run.generator_path = str(paths[0] if len(paths) == 1 else folder)
    run.summary["generator" if run.trainer.generators else "model"] = run.generator_path


@hookimpl
def ganrun_run_end(run, status, error):
    _last.pop(id(run), None)
    _owed.discard(id(run))
