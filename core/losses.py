"""Adversarial losses, written once and chosen by name (``get_loss("bce")``).

Each loss gives the three terms a GAN is built from, on raw discriminator outputs:

* ``d_real(logits)``: the discriminator's loss on real samples,
* ``d_fake(logits)``: the discriminator's loss on generated samples,
* ``g(logits)``: the generator's loss on generated samples.

Methods combine them as their paper does (the DCGAN tutorial sums the two discriminator
terms; CycleGAN halves the sum).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ganrun.errors import UserError


class AdversarialLoss:
    name = ""

    def d_real(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def d_fake(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def g(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def probability(self, logits: torch.Tensor) -> torch.Tensor | None:
        """Mean probability of "real" that ``logits`` express, where the loss defines one."""
        return None


class BCELoss(AdversarialLoss):
    """Binary cross-entropy on logits, non-saturating generator (Goodfellow et al. 2014)."""

    name = "bce"

    def d_real(self, logits):
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))

    def d_fake(self, logits):
        return F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))

    def g(self, logits):
        return self.d_real(logits)

    def probability(self, logits):
        return torch.sigmoid(logits).mean()


class LeastSquaresLoss(AdversarialLoss):
    """LSGAN (Mao et al. 2017, eq. 2): squared distance to 1 (real) and 0 (fake)."""

    name = "least_squares"

    def d_real(self, logits):
        return F.mse_loss(logits, torch.ones_like(logits))

    def d_fake(self, logits):
        return F.mse_loss(logits, torch.zeros_like(logits))

    def g(self, logits):
        return self.d_real(logits)


class WassersteinLoss(AdversarialLoss):
    """WGAN critic loss (Arjovsky et al. 2017); pair with :func:`gradient_penalty` (WGAN-GP)."""

    name = "wgan"

    def d_real(self, logits):
        return -logits.mean()

    def d_fake(self, logits):
        return logits.mean()

    def g(self, logits):
        return -logits.mean()


class HingeLoss(AdversarialLoss):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018)."""

    name = "hinge"

    def d_real(self, logits):
        return F.relu(1.0 - logits).mean()

    def d_fake(self, logits):
        return F.relu(1.0 + logits).mean()

    def g(self, logits):
        return -logits.mean()


LOSSES: dict[str, Callable[[], AdversarialLoss]] = {
    cls.name: cls for cls in (BCELoss, LeastSquaresLoss, WassersteinLoss, HingeLoss)
}


def get_loss(name: str, key: str = "model.loss") -> AdversarialLoss:
    if name not in LOSSES:
        raise UserError(f"{key}: unknown loss '{name}' (known: {', '.join(sorted(LOSSES))})")
    return LOSSES[name]()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017, eq. 3): E[(||grad D(x_hat)||_2 - 1)^2]."""
    alpha = torch.rand(real.size(0), *([1] * (real.dim() - 1)), device=real.device)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def r1_penalty(real_out: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018, eq. 9, without its gamma / 2): E[||grad_x D(x)||^2] over the
    real batch. ``real`` must require grad and ``real_out`` be D's output on it."""
    (grad,) = torch.autograd.grad(real_out.sum(), real, create_graph=True)
    return grad.float().square().flatten(1).sum(1).mean()
