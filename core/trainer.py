"""The base of a method's trainer: what the engine needs from a method, and no loop."""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from ganrun import distributed
from ganrun.precision import Precision


class Trainer:
    """A method's training step and its state; subclasses implement ``train_step``.

    The engine calls ``train_step(batch)`` once per batch and ``end_epoch(epoch)`` after
    each epoch; lifecycle plugins call ``preview()`` for the epoch's grid and
    ``state_dict()`` for checkpoints. Everything a run needs to continue exactly where it
    stopped must be in ``state_dict()``: networks, optimisers, schedulers, and the method's
    own extra state (``extra_state()``: image pools, fixed noise, counters).

    Gradients go through three helpers, so that one method runs unchanged in fp32 or mixed
    precision, in one process or several: ``self.backward(loss)`` (or ``self.grads(loss,
    params)`` for a step that takes gradients with ``torch.autograd.grad``, assigned to
    ``p.grad``), then ``self.step(name)`` for the optimiser ``name``: it averages that
    optimiser's gradients over the ranks and steps (through the fp16 gradient scaler).
    """

    #: ``train.precision: auto`` takes bf16 for this method where the device computes bf16
    #: natively: set True only once the method's quality in bf16 was measured to hold.
    auto_bf16: bool = False

    def __init__(self, generators: dict[str, nn.Module], discriminators: dict[str, nn.Module],
                 device: torch.device):
        self.generators = generators
        self.discriminators = discriminators
        self.device = device
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}
        self.precision = Precision()  # the engine sets the recipe's (train.precision)

    @property
    def networks(self) -> dict[str, nn.Module]:
        return {**self.generators, **self.discriminators}

    def exports(self) -> dict[str, nn.Module]:
        """The trained networks a user takes away (safetensors, at the end of a run): the
        generators; a classifier method exports its classifier."""
        return self.generators

    def prepare(self, steps_per_epoch: int, epochs: int) -> None:
        """Called once the data is known, before a checkpoint is loaded: a trainer with a
        per-step schedule builds it here."""

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One optimisation step on ``batch``; returns scalar tensors by name: the losses
        and the signals a health monitor reads (e.g. ``d_real``/``d_fake``: D(x), D(G(z));
        ``grad_G``: the gradient norm)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- gradients
    def backward(self, loss: torch.Tensor, retain_graph: bool = False) -> None:
        """``loss.backward()``, scaled for fp16, outside autocast."""
        with self.precision.full():
            self.precision.scale(loss).backward(retain_graph=retain_graph)

    def grads(self, loss: torch.Tensor, params: Sequence[torch.Tensor],
              retain_graph: bool = False) -> tuple[torch.Tensor, ...]:
        """``torch.autograd.grad(loss, params)``, scaled for fp16 like :meth:`backward`; the
        caller assigns them to ``p.grad`` before :meth:`step`."""
        with self.precision.full():
            return torch.autograd.grad(self.precision.scale(loss), params,
                                       retain_graph=retain_graph)

    def step(self, name: str) -> None:
        """Step optimiser ``name``: its gradients averaged over the ranks first (one
        process: nothing to average), then unscaled and checked under fp16."""
        opt = self.optimizers[name]
        distributed.average_gradients(p for group in opt.param_groups for p in group["params"])
        self.precision.step(opt)

    def end_step(self) -> None:
        """Called by the engine after each ``train_step``: the fp16 scale's update."""
        self.precision.update()

    def preview(self) -> tuple[torch.Tensor, int]:
        """Images for this epoch's grid (N x C x H x W in [-1, 1]) and the grid's row length."""
        raise NotImplementedError

    def judged(self, real: torch.Tensor | None, n: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """For each discriminator, ``n`` real and ``n`` generated images it judges (for maps
        of its decision). The default serves one generator and one discriminator: ``real``
        (from the dataset) against the preview's fakes; methods with more networks override."""
        if real is None or len(self.discriminators) != 1 or len(self.generators) != 1:
            return {}
        fake = self.preview()[0][:n]
        return {next(iter(self.discriminators)): (real[:n].to(fake.device), fake)}

    def end_epoch(self, epoch: int) -> None:
        """Called after each epoch; steps the learning-rate schedulers."""
        for sched in self.schedulers.values():
            sched.step()

    def train(self, mode: bool = True) -> None:
        for net in self.networks.values():
            net.train(mode)

    # ---------------------------------------------------------------- state
    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {
            "networks": {k: v.state_dict() for k, v in self.networks.items()},
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
            "extra": self.extra_state(),
            "precision": self.precision.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for group in ("networks", "optimizers", "schedulers"):
            mine = getattr(self, group) if group != "networks" else self.networks
            if set(mine) != set(state[group]):
                raise ValueError(f"checkpoint {group} {sorted(state[group])} != {sorted(mine)}")
            for k, v in state[group].items():
                mine[k].load_state_dict(v)
        self.load_extra_state(state["extra"])
        self.precision.load_state_dict(state.get("precision", {}))
