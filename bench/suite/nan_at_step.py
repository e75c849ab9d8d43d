"""Induced failure for bench/health_suite.py: the generator's weights turn NaN at step 600."""
import math

import torch

from ganrun import hookimpl


@hookimpl
def ganrun_step_end(run, losses):
    if run.step == 600:
        with torch.no_grad():
            next(iter(run.trainer.generators.values())).parameters().__next__().fill_(math.nan)
