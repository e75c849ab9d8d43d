"""Learning-rate schedules: per epoch (stepped by :meth:`ganrun.trainer.Trainer.end_epoch`)
or per step (stepped by the trainer's ``train_step``)."""
from __future__ import annotations

import math

import torch


class LinearDecay:
    """Constant for ``n_epochs``, then linear towards zero over ``n_epochs_decay`` (CycleGAN).

    The factor for training epoch ``t`` (1-based) is ``1 - max(0, t - n_epochs) /
    (n_epochs_decay + 1)``, the official ``lambda_rule`` with ``epoch_count`` 1: epoch 100
    trains at the full rate, epoch 101 at 100/101 of it, epoch 200 at 1/101.
    A class rather than a lambda so ``LambdaLR.state_dict`` keeps its settings.
    """

    def __init__(self, n_epochs: int, n_epochs_decay: int):
        self.n_epochs, self.n_epochs_decay = n_epochs, n_epochs_decay

    def __call__(self, done: int) -> float:
        """``done``: epochs finished (LambdaLR's counter); epoch ``done + 1`` trains next."""
        return 1.0 - max(0, done + 1 - self.n_epochs) / float(self.n_epochs_decay + 1)


def linear_decay(optimizer: torch.optim.Optimizer, n_epochs: int,
                 n_epochs_decay: int) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, LinearDecay(n_epochs, n_epochs_decay))


class CosineDecay:
    """Half a cosine from 1 to 0 over ``total`` steps (Loshchilov & Hutter 2017, no restarts)."""

    def __init__(self, total: int):
        self.total = max(1, total)

    def __call__(self, done: int) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * min(done, self.total) / self.total))


def cosine_decay(optimizer: torch.optim.Optimizer, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, CosineDecay(total_steps))
