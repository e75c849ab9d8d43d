"""StarGAN's recipe schema and training step (Choi et al. 2018, Sec. 3; the official
yunjey/stargan ``solver.py``: ``train`` for one dataset, ``train_multi`` for several).

One ``train_step`` is one official iteration. For each dataset of the batch, in order (one
for a plain dataset; CelebA then RaFD for a joint one, through the mask vector):

* the critic D: ``L_D = -L_adv + lambda_cls L_cls^r`` (eq. 5) with the WGAN-GP adversarial
  loss (Sec. 4, eq. 8: ``E[D_src(G(x,c))] - E[D_src(x)] + lambda_gp E[(||grad D_src(x^)||_2
  - 1)^2]``) and the domain classification of real images (eq. 2);
* every ``n_critic``-th iteration, the generator G: ``L_G = L_adv + lambda_cls L_cls^f +
  lambda_rec L_rec`` (eq. 6): fool D_src, be classified as the target domain (eq. 3), and
  reconstruct x from G(x, c) with the original label (eq. 4, L1).

Targets are the batch's labels in a random order for attributes (as the official code) and
random classes for single-label data. Adam (1e-4, betas 0.5 / 0.999) for both, the rates
decaying linearly to zero over the last ``num_iters_decay`` iterations as the paper says;
the official update subtracts ``lr / num_iters_decay`` only once every 1,000 iterations,
which leaves the rate at 99.9% of its start (docs/stargan_vs_cyclegan.md).

Signals ``train_step`` returns (means over the batch's datasets), for logging and health:
``d_loss``; ``w_distance``: the critic's estimate of the Wasserstein distance, mean
D_src(x) - mean D_src(G(x, c)); ``w_bound``: mean ||x - G(x, c)||_2 over the batch, which
a 1-Lipschitz critic's estimate cannot exceed; ``gp``: the gradient penalty as ``d_loss``
adds it, ``lambda_gp`` x E[(||grad D_src(x^)||_2 - 1)^2]; ``d_cls``; and from the latest
generator iteration ``g_loss``, ``g_adv``, ``g_cls``, ``g_rec`` (and ``g_id`` with
``lambda_id``). ``w_distance``, ``w_bound``, ``gp`` and ``g_cls`` are the names the
Wasserstein health monitors read (docs/health.md), shared with the WGAN-GP example plugin.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, List

import torch
from torch import nn

from ganrun.errors import UserError
from ganrun.losses import get_loss, gradient_penalty
from ganrun.schedules import linear_decay
from ganrun.schema import limit
from ganrun.trainer import Trainer
from ganrun_plugins.stargan.labels import LabelLayout


@dataclass
class StarGANConfig:
    """``model`` section of a stargan recipe; defaults are the official implementation's."""

    image_size: int = limit(128, ge=4, doc="the data's image side")
    channels: int = limit(3, ge=1, doc="image channels: 1 grey, 3 RGB")
    g_conv_dim: int = limit(64, ge=1, doc="G's first conv width")
    d_conv_dim: int = limit(64, ge=1, doc="D's first conv width")
    g_repeat_num: int = limit(6, ge=0, doc="residual blocks in G")
    d_repeat_num: int = limit(6, ge=1, doc="stride-2 convs in D")
    lambda_cls: float = limit(1.0, ge=0.0, doc="weight of the domain classification loss")
    lambda_rec: float = limit(10.0, ge=0.0, doc="weight of the reconstruction (cycle) loss")
    lambda_gp: float = limit(10.0, ge=0.0, doc="weight of WGAN-GP's gradient penalty")
    lambda_id: float = limit(
        0.0, ge=0.0, doc="not StarGAN's: L1(G(x, c_org), x), CycleGAN's identity term (eq. 6 "
                         "of Zhu et al.); 0: official")
    n_critic: int = limit(5, ge=1, doc="D updates per G update")
    g_lr: float = limit(1e-4, ge=0.0, doc="G's Adam learning rate")
    d_lr: float = limit(1e-4, ge=0.0, doc="D's Adam learning rate")
    betas: List[float] = limit([0.5, 0.999], ge=0.0, le=0.9999, doc="Adam's betas")
    num_iters_decay: int = limit(100000, ge=0, doc="last iterations, linear decay to zero")
    preview: int = limit(4, ge=1, doc="training images of each dataset in each epoch's grid")
    # measured every metrics.every epochs on the test split (registered evaluators):
    class_evaluator: str = limit(
        "", doc="evaluator of the class kept by translations (e.g. lenet_mnist32); empty: none")
    attribute_evaluators: List[str] = limit(
        [], doc="evaluators of the target labels reached, one per label set; empty: none")


def label_layout(recipe: Any) -> LabelLayout:
    """The label layout of the recipe's data (``data`` config's ``label_sets()``)."""
    sets = getattr(recipe.data, "label_sets", None)
    if sets is None:
        raise UserError(f"data.name: '{recipe.data.name}' gives no domain labels; stargan "
                        f"needs a labelled dataset (celeba, class_folders, mnist_attributes, ...)")
    return LabelLayout(tuple(sets()))


def batch_parts(batch: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``[(images, labels)]`` of each dataset in a batch: ``image``/``label``, or
    ``image_0``/``label_0``, ``image_1``/``label_1``, ... from a joint dataset."""
    if "image" in batch:
        return [(batch["image"], batch["label"])]
    parts, k = [], 0
    while f"image_{k}" in batch:
        parts.append((batch[f"image_{k}"], batch[f"label_{k}"]))
        k += 1
    return parts


class StarGANTrainer(Trainer):
    """One generator, one critic with a domain classifier, ``n_critic`` critic steps per G step."""

    G_SIGNALS = ("g_loss", "g_adv", "g_cls", "g_rec")

    def __init__(self, recipe: Any, generators: dict[str, nn.Module],
                 discriminators: dict[str, nn.Module], losses: dict[str, Any],
                 device: torch.device):
        super().__init__(generators, discriminators, device)
        self.cfg: StarGANConfig = recipe.model
        self.layout: LabelLayout = losses["layout"]
        self.adv = losses["adversarial"]
        self.G, self.D = generators["G"], discriminators["D"]
        betas = tuple(self.cfg.betas)
        self.optimizers = {"G": torch.optim.Adam(self.G.parameters(), self.cfg.g_lr, betas),
                           "D": torch.optim.Adam(self.D.parameters(), self.cfg.d_lr, betas)}
        self.iteration = 0  # iterations done: the critic phase is iteration % n_critic
        self.last_g: dict[str, torch.Tensor] = {}  # the latest generator step's signals
        self.previews: list[tuple[torch.Tensor, torch.Tensor]] = []  # per dataset

    def prepare(self, steps_per_epoch: int, epochs: int) -> None:
        """Per-iteration schedules: constant, then linear to zero over ``num_iters_decay``."""
        total = steps_per_epoch * epochs
        decay = min(self.cfg.num_iters_decay, total)
        self.schedulers = {k: linear_decay(opt, total - decay, decay)
                           for k, opt in self.optimizers.items()}

    def end_epoch(self, epoch: int) -> None:
        """Nothing per epoch: the schedules step with every iteration."""

    # ------------------------------------------------------------------ the two updates
    def critic_step(self, k: int, x: torch.Tensor, label: torch.Tensor,
                    c_trg: torch.Tensor) -> dict[str, torch.Tensor]:
        """One update of D on real ``x`` (labels of set ``k``) and G(x, c_trg) (eq. 5, 8)."""
        c = self.cfg
        with torch.no_grad():  # the official code builds G's graph here and never uses it
            x_fake = self.G(x, c_trg)
        src_real, cls_real = self.D(x)
        src_fake, _ = self.D(x_fake)
        d_real, d_fake = self.adv.d_real(src_real), self.adv.d_fake(src_fake)
        d_cls = self.layout.classification_loss(k, cls_real, label)
        gp = c.lambda_gp * gradient_penalty(lambda z: self.D(z)[0], x, x_fake)
        d_loss = d_real + d_fake + c.lambda_cls * d_cls + gp
        self.optimizers["D"].zero_grad(set_to_none=True)
        self.backward(d_loss)
        self.step("D")
        w_bound = (x - x_fake).flatten(1).norm(dim=1).mean()
        return {"d_loss": d_loss, "w_distance": -(d_real + d_fake), "w_bound": w_bound,
                "d_cls": d_cls, "gp": gp}

    def generator_step(self, k: int, x: torch.Tensor, label_trg: torch.Tensor,
                       c_org: torch.Tensor, c_trg: torch.Tensor) -> dict[str, torch.Tensor]:
        """One update of G (eq. 6): adversarial, target-domain classification, reconstruction."""
        c = self.cfg
        self.D.requires_grad_(False)  # D's gradients are not needed: G's are the same
        try:
            x_fake = self.G(x, c_trg)
            src, cls = self.D(x_fake)
            g_adv = self.adv.g(src)
            g_cls = self.layout.classification_loss(k, cls, label_trg)
            g_rec = (x - self.G(x_fake, c_org)).abs().mean()
            g_loss = g_adv + c.lambda_rec * g_rec + c.lambda_cls * g_cls
            out = {"g_adv": g_adv, "g_cls": g_cls, "g_rec": g_rec}
            if c.lambda_id:
                out["g_id"] = (x - self.G(x, c_org)).abs().mean()
                g_loss = g_loss + c.lambda_id * out["g_id"]
            self.optimizers["G"].zero_grad(set_to_none=True)
            self.backward(g_loss)
            self.step("G")
        finally:
            self.D.requires_grad_(True)
        return {"g_loss": g_loss, **out}

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        parts = batch_parts(batch)
        self._keep_preview(parts)
        update_g = (self.iteration + 1) % self.cfg.n_critic == 0
        d_sums: dict[str, torch.Tensor] = {}
        g_sums: dict[str, torch.Tensor] = {}
        for k, (x, label) in enumerate(parts):
            label_trg = self.layout.random_targets(k, label)
            c_org, c_trg = self.layout.encode(k, label), self.layout.encode(k, label_trg)
            _add(d_sums, self.critic_step(k, x, label, c_trg))
            if update_g:
                _add(g_sums, self.generator_step(k, x, label_trg, c_org, c_trg))
        self.iteration += 1
        with warnings.catch_warnings():  # G's schedule steps before G's first update: meant
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler")
            for sched in self.schedulers.values():
                sched.step()
        if g_sums:
            self.last_g = {k: v / len(parts) for k, v in g_sums.items()}
        return {**{k: v / len(parts) for k, v in d_sums.items()}, **self.last_g}

    # ------------------------------------------------------------------ preview
    def _keep_preview(self, parts: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Keep the first ``cfg.preview`` training images (and labels) of each dataset."""
        if self.previews and all(len(x) >= self.cfg.preview for x, _ in self.previews):
            return
        if not self.previews:
            self.previews = [(x[:0].detach().clone(), y[:0].detach().clone()) for x, y in parts]
        for k, (x, y) in enumerate(parts):
            kept_x, kept_y = self.previews[k]
            need = self.cfg.preview - len(kept_x)
            if need > 0:
                self.previews[k] = (torch.cat([kept_x, x[:need].detach()]),
                                    torch.cat([kept_y, y[:need].detach()]))

    def targets_for(self, k: int, label: torch.Tensor) -> list[torch.Tensor]:
        """G's label vectors, one per grid column, for images of dataset ``k``: every target
        of every label set (another dataset's attributes start from all 0: that dataset
        never labelled these images)."""
        columns = []
        for m in range(len(self.layout.sets)):
            own = label if m == k else self.layout.blank(m, len(label), label.device)
            columns += [self.layout.encode(m, t) for t in self.layout.column_targets(m, own)]
        return columns

    def preview(self) -> tuple[torch.Tensor, int]:
        """A row per kept image: the input, then G(x, c) for every target domain (a column
        per attribute or class of every label set)."""
        rows = []
        for k, (x, label) in enumerate(self.previews):
            outs = [self.G(x, c) for c in self.targets_for(k, label)]
            rows.append(torch.stack([x, *outs], 1).flatten(0, 1))
        return torch.cat(rows), 1 + sum(len(s) for s in self.layout.sets)

    def judged(self, real, n):
        """D sees the first kept images and their translations to the first target."""
        x, label = self.previews[0]
        return {"D": (x[:n], self.G(x[:n], self.targets_for(0, label[:n])[0]))}

    # ------------------------------------------------------------------ state
    def extra_state(self) -> dict[str, Any]:
        return {"iteration": self.iteration,
                "last_g": {k: v.detach().cpu() for k, v in self.last_g.items()},
                "previews": [(x.cpu(), y.cpu()) for x, y in self.previews]}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.iteration = int(state["iteration"])
        self.last_g = {k: v.to(self.device) for k, v in state["last_g"].items()}
        self.previews = [(x.to(self.device), y.to(self.device)) for x, y in state["previews"]]


def _add(sums: dict[str, torch.Tensor], values: dict[str, torch.Tensor]) -> None:
    for k, v in values.items():
        sums[k] = sums.get(k, 0) + v.detach()


def make_losses(recipe: Any) -> dict[str, Any]:
    """WGAN-GP's adversarial terms (core/losses.py) and the recipe's label layout."""
    return {"adversarial": get_loss("wgan"), "layout": label_layout(recipe)}
