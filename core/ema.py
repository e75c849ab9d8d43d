"""An exponential moving average of a generator's weights, the network a run hands out.

``theta_ema <- beta * theta_ema + (1 - beta) * theta`` after every generator step (Yazici et
al. 2019, "The Unusual Effectiveness of Averaging in GAN Training", eq. 2; the averaged
generator of Karras et al. 2018 and StarGAN v2). The average smooths the oscillation of the
adversarial game, so its samples are cleaner than those of the weights the game left at the
last step. Buffers (BatchNorm's running statistics) are copied, not averaged. The averaged
copy never trains: it is what the grids, the evaluations and the export read.

The decay warms up as ``tf.train.ExponentialMovingAverage(decay, num_updates)`` does:
``min(beta, (1 + t) / (10 + t))`` at the ``t``-th update, so the average forgets the random
initial weights within the first few hundred steps instead of ~``1 / (1 - beta)`` (with
beta 0.999 and no warm-up, 29% of the average is still the initialisation after 1,250
steps, and the early grids and evaluations show it).
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class WeightAverage:
    """An EMA copy of ``net`` (decay ``beta``), updated from ``net`` by :meth:`update`."""

    def __init__(self, net: nn.Module, beta: float):
        if not 0.0 < beta < 1.0:
            raise ValueError(f"beta: {beta} must be in (0, 1)")
        self.beta = beta
        self.updates = 0
        self.net = copy.deepcopy(net).requires_grad_(False).eval()

    def decay(self) -> float:
        """The decay of the next update: ``beta``, lower during the warm-up."""
        return min(self.beta, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        """One step of the average towards ``net``'s current weights; buffers copied."""
        ema = [p for p in self.net.parameters()]
        live = [p.detach() for p in net.parameters()]
        torch._foreach_lerp_(ema, live, 1.0 - self.decay())
        self.updates += 1
        for b_ema, b in zip(self.net.buffers(), net.buffers()):
            b_ema.copy_(b)

    def state_dict(self) -> dict[str, Any]:
        """The averaged network's state and the number of updates (for the warm-up)."""
        return {"net": self.net.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Also reads a checkpoint written before the warm-up (the network's state alone)."""
        if "net" not in state:
            state = {"net": state, "updates": 10**9}  # its average had no warm-up to resume
        self.net.load_state_dict(state["net"])
        self.updates = int(state["updates"])
