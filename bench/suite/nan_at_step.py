"""Induced failure for bench/health_suite.py: the generator's weights turn NaN at step
``GANRUN_NAN_STEP`` (600 by default)."""
import math
import os

import torch

from ganrun import hookimpl

STEP = int(os.environ.get("GANRUN_NAN_STEP", "600"))


@hookimpl
def ganrun_step_end(run, losses):
    if run.step == STEP:
        with torch.no_grad():
            next(iter(run.trainer.generators.values())).parameters().__next__().fill_(math.nan)
