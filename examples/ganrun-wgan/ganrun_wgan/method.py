"""WGAN-GP (Gulrajani et al. 2017, Algorithm 1) on the dcgan plugin's networks.

One ``train_step`` is one critic iteration on the batch: ``L = D(x~) - D(x) + lambda
(||grad D(x^)||_2 - 1)^2`` with ``x~ = G(z)`` and ``x^`` a random point between ``x`` and
``x~`` (eq. 3); every ``n_critic``-th step is also a generator iteration, ``-D(G(z))``. The
``n_critic`` critic iterations of Algorithm 1 thus see ``n_critic`` consecutive batches.
The losses are ganrun's shared ones: ``get_loss("wgan")`` and ``gradient_penalty``.

The critic is the dcgan plugin's discriminator, which has no BatchNorm (the paper's
critic must not: the penalty is per sample); its dropout defaults to 0 here.

Signals ``train_step`` returns (ganrun's Wasserstein health monitors read the first three,
under the names stargan reports them by too):

* ``w_distance``: the critic's Wasserstein estimate, mean D(x) - mean D(G(z)), before the
  penalty; it shrinks towards 0 as G's distribution approaches the data's;
* ``w_bound``: mean ||x - x~||_2 over the batch's pairs, which a 1-Lipschitz critic's
  estimate cannot exceed (it diverges when ``w_distance`` does);
* ``gp``: the gradient penalty as the loss adds it, ``lambda_gp`` x E[(||grad D(x^)||_2 - 1)^2];
* ``disc``: the critic's whole loss, ``-w_distance + gp``;
* ``gen``: the generator's loss ``-mean D(G(z))`` on the step's samples, as the critic
  scores them before its update (every step, though G is updated every ``n_critic``-th);
* ``grad_D``: the critic's global gradient norm; ``grad_G``: the generator's, of its latest
  update (absent from a run's first ``n_critic - 1`` steps).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List

import torch

from ganrun.losses import gradient_penalty
from ganrun.schema import limit
from ganrun_plugins.dcgan.method import DCGANConfig, DCGANTrainer, global_norm, make_noise


@dataclass
class WGANGPConfig(DCGANConfig):
    """``model`` section of a wgan_gp recipe: dcgan's network keys with Algorithm 1's
    defaults (alpha 1e-4, beta1 0, beta2 0.9, n_critic 5, lambda 10)."""

    dropout: float = limit(0.0, ge=0.0, le=0.99)  # the paper's critic has none
    loss: str = limit("wgan", choices=("wgan",))
    lr_g: float = limit(1e-4, ge=0.0)
    lr_d: float = limit(1e-4, ge=0.0)
    betas: List[float] = limit([0.0, 0.9], ge=0.0, le=0.9999)
    adam_eps: float = limit(1e-8, gt=0.0)
    n_critic: int = limit(5, ge=1)  # critic iterations per generator iteration
    lambda_gp: float = limit(10.0, ge=0.0)


class WGANGPTrainer(DCGANTrainer):
    """dcgan's trainer (optimisers, fixed grid noise, weight average, export) with
    Algorithm 1's two updates in place of the tutorial's simultaneous step."""

    auto_bf16 = False  # quality in bf16 not measured for this method

    def __init__(self, recipe: Any, generators: dict, discriminators: dict, losses: dict,
                 device: torch.device):
        super().__init__(recipe, generators, discriminators, losses, device)
        self.iteration = 0  # critic iterations done
        self.last_g: dict[str, torch.Tensor] = {}

    def critic_step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """One critic update on ``real`` and as many fresh samples (Algorithm 1, lines 3-9)."""
        with torch.no_grad():
            fake = self.G(make_noise(real.size(0), self.cfg.noise_dim, device=self.device))
        fake_out = self.D(fake)
        adversarial = self.loss.d_real(self.D(real)) + self.loss.d_fake(fake_out)
        gp = self.cfg.lambda_gp * gradient_penalty(self.D, real, fake)
        d_loss = adversarial + gp
        self.optimizers["D"].zero_grad(set_to_none=True)
        self.backward(d_loss)
        self.step("D")
        grad = global_norm(tuple(p.grad for p in self.D.parameters() if p.grad is not None))
        w_bound = (real - fake).flatten(1).norm(dim=1).mean()
        return {"disc": d_loss.detach(), "w_distance": -adversarial.detach(), "w_bound": w_bound,
                "gp": gp.detach(), "gen": self.loss.g(fake_out).detach(), "grad_D": grad}

    def generator_step(self) -> dict[str, torch.Tensor]:
        """One generator update on a fresh noise batch (Algorithm 1, lines 11-12); returns
        its gradient norm."""
        self.D.requires_grad_(False)  # only G's gradients are wanted
        try:
            noise = make_noise(self.noise_batch, self.cfg.noise_dim, device=self.device)
            g_loss = self.loss.g(self.D(self.G(noise)))
            self.optimizers["G"].zero_grad(set_to_none=True)
            self.backward(g_loss)
            self.step("G")
        finally:
            self.D.requires_grad_(True)
        if self.G_ema is not None:
            self.G_ema.update(self.G)
        grad = global_norm(tuple(p.grad for p in self.G.parameters() if p.grad is not None))
        return {"grad_G": grad}

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = self.critic_step(batch["image"])
        self.iteration += 1
        if self.iteration % self.cfg.n_critic == 0:
            self.last_g = self.generator_step()
        return {**out, **self.last_g}

    def extra_state(self) -> dict[str, Any]:
        return {**super().extra_state(), "iteration": self.iteration}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        super().load_extra_state(state)
        self.iteration = int(state["iteration"])
