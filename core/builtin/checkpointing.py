"""Built-in plugin: checkpoints every ``train.checkpoint_every`` epochs, exports generators.

The checkpoint is saved after every other ``ganrun_epoch_end`` implementation has run (a
hook wrapper), so a tracker has logged the epoch before the checkpoint says it is done:
resuming from it never skips an epoch's metrics.
"""
from __future__ import annotations

from pathlib import Path

from ganrun import hookimpl
from ganrun.checkpoint import (CHECKPOINT_DIR, GENERATOR_DIR, checkpoint_name, export_generator,
                               save_checkpoint)


def _due(run, epoch: int) -> bool:
    every = run.recipe.train.checkpoint_every
    return epoch == run.recipe.train.epochs or bool(every and epoch % every == 0)


def _prune(folder: Path, keep: int) -> None:
    if keep:
        for old in sorted(folder.glob("ckpt-epoch*.pt"))[:-keep]:
            old.unlink()


@hookimpl(wrapper=True)
def ganrun_epoch_end(run, report):
    result = yield
    if _due(run, report.epoch) and not run.stop_reason:  # a stopped run keeps its last good one
        folder = run.output_dir / CHECKPOINT_DIR
        path = save_checkpoint(folder / checkpoint_name(report.epoch), run.state_dict())
        _prune(folder, run.recipe.train.keep_checkpoints)
        run.hook.ganrun_checkpoint_saved(run=run, path=str(path), epoch=report.epoch)
    return result


@hookimpl(tryfirst=True)
def ganrun_run_end(run, status, error):
    """On success, export each generator as safetensors with its recipe beside it."""
    if status != "FINISHED":
        return
    folder = run.output_dir / GENERATOR_DIR
    generators = run.trainer.generators
    paths = [
        export_generator(folder / f"{name}.safetensors", net, run.recipe_yaml, name,
                         "generator" if name in generators else "discriminator")
        for name, net in run.trainer.exports().items()
    ]
    if not paths:
        return
    (folder / "recipe.yaml").write_text(run.recipe_yaml)
    run.generator_path = str(paths[0] if len(paths) == 1 else folder)
    run.summary["generator" if run.trainer.generators else "model"] = run.generator_path
