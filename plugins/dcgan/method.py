"""The DCGAN tutorial's recipe schema and training step.

The step is the tutorial's ``train_step``: one forward pass of G and D, both losses from
it, both gradients taken before either optimiser steps (the two ``GradientTape``s), then
both Adam updates. Noise is a full ``train.batch_size`` batch even when the last real
batch is smaller, as in the tutorial (under torchrun, each rank's share of it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List

import torch
from torch import nn

from ganrun import optim
from ganrun.distributed import local_batch
from ganrun.ema import WeightAverage
from ganrun.init import init_glorot
from ganrun.losses import LOSSES, AdversarialLoss, get_loss, r1_penalty
from ganrun.schema import limit
from ganrun.trainer import Trainer


@dataclass
class DCGANConfig:
    """``model`` section of a dcgan recipe; defaults are the TensorFlow tutorial's."""

    noise_dim: int = limit(100, ge=1, doc="length of G's noise vector z")
    g_widths: List[int] = limit([256, 128, 64], ge=1, doc="G: dense 7x7xW0, then two deconvs")
    d_widths: List[int] = limit([64, 128], ge=1, doc="D: its two stride-2 convs")
    channels: int = limit(1, ge=1, doc="image channels: 1 grey, 3 RGB")
    leaky_slope: float = limit(0.3, ge=0.0, doc="LeakyReLU slope (Keras' default 0.3)")
    bn_momentum: float = limit(
        0.01, gt=0.0, le=1.0, doc="BatchNorm momentum, PyTorch's convention: 1 - Keras' 0.99")
    bn_eps: float = limit(1e-3, gt=0.0, doc="BatchNorm epsilon (Keras' default)")
    dropout: float = limit(0.3, ge=0.0, le=0.99, doc="dropout after each of D's convs; 0: none")
    tf_padding: bool = limit(True, doc="TF 'same' padding (1 before, 2 after); false: symmetric")
    init: str = limit("glorot_uniform", choices=("glorot_uniform", "torch_default"),
                      doc="initial weights: Keras' Glorot-uniform with zero biases, or PyTorch's")
    loss: str = limit("bce", choices=tuple(LOSSES), doc="adversarial loss (ganrun.losses)")
    lr_g: float = limit(1e-4, ge=0.0, doc="G's Adam learning rate")
    lr_d: float = limit(1e-4, ge=0.0, doc="D's Adam learning rate")
    betas: List[float] = limit(
        [0.9, 0.999], ge=0.0, le=0.9999, doc="Adam's betas (Keras' defaults)")
    adam_eps: float = limit(1e-7, gt=0.0, doc="Adam's epsilon (Keras' default; PyTorch's is 1e-8)")
    g_ema: float = limit(
        0.0, ge=0.0, lt=1.0,
        doc="not the tutorial's (0: off): grids, evaluations and the export use an exponential "
            "moving average of G's weights with this decay, e.g. 0.999 (ganrun.ema)")
    r1_gamma: float = limit(
        0.0, ge=0.0,
        doc="not the tutorial's (0: off): weight gamma of the R1 penalty on D's gradient at "
            "real images, gamma / 2 * E||grad D(x)||^2 (Mescheder et al. 2018, eq. 9)")
    r1_every: int = limit(
        1, ge=1,
        doc="the R1 penalty on every k-th step only, weighted k times (lazy regularisation, "
            "Karras et al. 2020, StyleGAN2 sec. 3.1): its double backward costs ~25-50% of "
            "a quick-start step when taken every step")


def make_noise(n: int, dim: int, generator: torch.Generator | None = None,
               device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard normal noise ``n x dim`` (``tf.random.normal([n, dim])``)."""
    return torch.randn(n, dim, generator=generator).to(device) if generator is not None \
        else torch.randn(n, dim, device=device)


def initialise(net: nn.Module, cfg: DCGANConfig) -> nn.Module:
    """``cfg.init``: Keras' Glorot-uniform (the tutorial), or PyTorch's default init."""
    if cfg.init == "glorot_uniform":
        init_glorot(net)
    return net


def make_losses(cfg: DCGANConfig) -> dict[str, AdversarialLoss]:
    return {"adversarial": get_loss(cfg.loss)}


def global_norm(grads: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """L2 norm of all gradients together (what gradient clipping would measure)."""
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def adam(net: nn.Module, lr: float, cfg: DCGANConfig) -> torch.optim.Adam:
    return optim.adam(net.parameters(), lr, cfg.betas, cfg.adam_eps)


class DCGANTrainer(Trainer):
    """Unconditional DCGAN: G maps noise to images, D scores images.

    A conditional subclass changes only what the networks are given: ``generator_inputs``
    returns ``(noise, *conditions)``, and ``discriminate`` receives the conditions of the
    images it scores (``real_inputs`` for the real batch, the generator's for fakes).
    """

    auto_bf16 = True  # FID-LeNet at equal steps, bf16 vs fp32: docs/dcgan.md
    preview_seeds = 16  # the tutorial's 16 fixed seeds
    preview_nrow = 4  # its 4 x 4 grid

    def __init__(self, recipe: Any, generators: dict[str, nn.Module],
                 discriminators: dict[str, nn.Module], losses: dict[str, AdversarialLoss],
                 device: torch.device):
        super().__init__(generators, discriminators, device)
        self.cfg: DCGANConfig = recipe.model
        self.G, self.D = generators["G"], discriminators["D"]
        self.loss = losses["adversarial"]
        self.noise_batch = local_batch(recipe.train.batch_size)  # this rank's share
        self.optimizers = {"G": adam(self.G, self.cfg.lr_g, self.cfg),
                           "D": adam(self.D, self.cfg.lr_d, self.cfg)}
        seeds = torch.Generator().manual_seed(recipe.train.seed)
        self.fixed_noise = make_noise(self.preview_seeds, self.cfg.noise_dim, seeds, device)
        self.G_ema = WeightAverage(self.G, self.cfg.g_ema) if self.cfg.g_ema else None
        self.steps = 0  # train steps taken: which ones take the lazy R1 penalty

    @property
    def sampler(self) -> nn.Module:
        """The generator a user gets: the weight average when ``model.g_ema`` is on."""
        return self.G_ema.net if self.G_ema is not None else self.G

    def exports(self) -> dict[str, nn.Module]:
        return {"G": self.sampler}

    def generator_inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """What G is called with this step (a subclass adds the class labels)."""
        return (make_noise(self.noise_batch, self.cfg.noise_dim, device=self.device),)

    def discriminate(self, images: torch.Tensor, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """D's logits for ``images``, which were made from (or paired with) ``inputs``."""
        return self.D(images)

    def real_inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """What D is told about the real images besides the pixels (nothing, here)."""
        return ()

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        inputs = self.generator_inputs(batch)
        fake = self.G(*inputs)
        lazy_r1 = bool(self.cfg.r1_gamma) and self.steps % self.cfg.r1_every == 0
        self.steps += 1
        real = batch["image"].detach().requires_grad_(True) if lazy_r1 else batch["image"]
        real_out = self.discriminate(real, self.real_inputs(batch))
        fake_out = self.discriminate(fake, inputs[1:])
        g_loss = self.loss.g(fake_out)
        d_loss = self.loss.d_real(real_out) + self.loss.d_fake(fake_out)  # the tutorial sums
        if lazy_r1:
            r1 = r1_penalty(real_out, real)
            d_loss = d_loss + self.cfg.r1_gamma / 2 * self.cfg.r1_every * r1
        g_params, d_params = list(self.G.parameters()), list(self.D.parameters())
        g_grads = self.grads(g_loss, g_params, retain_graph=True)
        d_grads = self.grads(d_loss, d_params)
        for params, grads in ((g_params, g_grads), (d_params, d_grads)):
            for p, g in zip(params, grads):
                p.grad = g
        self.step("G")  # the norms below are of these gradients as the steps used them:
        self.step("D")  # averaged over the ranks, unscaled under fp16
        if self.G_ema is not None:
            self.G_ema.update(self.G)
        out = {"gen": g_loss.detach(), "disc": d_loss.detach(),
               "grad_G": global_norm(g_grads), "grad_D": global_norm(d_grads)}
        if lazy_r1:  # sent on the steps that measure it; the epoch mean is over those
            out["r1"] = r1.detach()
        d_real, d_fake = self.loss.probability(real_out), self.loss.probability(fake_out)
        if d_real is not None:  # D(x) and D(G(z)): the classic signals of a winning D
            out["d_real"], out["d_fake"] = d_real.detach(), d_fake.detach()
        return out

    def preview_inputs(self) -> tuple[torch.Tensor, ...]:
        """What G is given for the epoch's grid: the fixed seeds."""
        return (self.fixed_noise,)

    def preview(self) -> tuple[torch.Tensor, int]:
        return self.sampler(*self.preview_inputs()), self.preview_nrow

    def extra_state(self) -> dict[str, Any]:
        state = {"fixed_noise": self.fixed_noise.cpu(), "steps": self.steps}
        if self.G_ema is not None:
            state["G_ema"] = self.G_ema.state_dict()
        return state

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.fixed_noise = state["fixed_noise"].to(self.device)
        self.steps = int(state.get("steps", 0))  # absent in checkpoints from before R1
        if self.G_ema is not None:
            self.G_ema.load_state_dict(state["G_ema"])
