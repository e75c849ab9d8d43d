"""Built-in plugin: one sample grid per epoch, ``images/image_at_epoch_0001.png`` ...

The images come from ``trainer.preview()`` (fixed inputs, so grids are comparable across
epochs), drawn in inference mode.
"""
from __future__ import annotations

import torch

from ganrun import hookimpl
from ganrun.images import save_grid

IMAGE_DIR = "images"


@hookimpl
def ganrun_epoch_end(run, report):
    trainer = run.trainer
    trainer.train(False)
    try:
        with torch.no_grad():
            images, nrow = trainer.preview()
    finally:
        trainer.train(True)
    path = run.output_dir / IMAGE_DIR / f"image_at_epoch_{report.epoch:04d}.png"
    report.artifacts["grid"] = str(save_grid(path, images, nrow))
    run.summary["grids"] = str(path.parent)
