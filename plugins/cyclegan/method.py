"""CycleGAN's recipe schema and training step (Zhu et al. 2017, Sec. 3 and 4).

Names follow the documentation (docs/cyclegan.md): ``genAB`` translates A to B, ``genBA``
B to A; ``discA`` judges domain A, ``discB`` domain B. The official code calls them
G_A = genAB, G_B = genBA, D_A = discB, D_B = discA.

One step, as the official ``optimize_parameters``: both generators forward; the summed
generator objective (eq. 3 plus the identity loss of Sec. 5.2) is stepped once with one
Adam for both generators while the discriminators' gradients are off; then each
discriminator takes 0.5 x (real + fake) on fakes drawn from its image pool, one Adam for
both.

Where the official code calls a network once per input, this step concatenates the inputs
a network sees at the same point of the step and calls it once (genAB on real A and, for
the identity loss, real B; each discriminator on its real and its fake batch): instance
norm normalises each image alone, so every image's output is the one a separate call gives,
in fewer and larger kernels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ganrun.losses import LOSSES, AdversarialLoss, get_loss
from ganrun.pool import ImagePool
from ganrun.schedules import linear_decay
from ganrun.schema import limit
from ganrun.trainer import Trainer

GENERATORS = ("genAB", "genBA")
DISCRIMINATORS = ("discA", "discB")


@dataclass
class CycleGANConfig:
    """``model`` section of a cyclegan recipe; defaults are the official implementation's."""

    netG: str = limit("resnet_9blocks", choices=("resnet_9blocks", "resnet_6blocks"),
                      doc="generator: a ResNet of 9 or 6 residual blocks")
    ngf: int = limit(64, ge=1, doc="generator width; small images train with less")
    ndf: int = limit(64, ge=1, doc="discriminator width")
    n_layers_D: int = limit(3, ge=1, doc="3: the 70x70 PatchGAN")
    channels: int = limit(3, ge=1, doc="image channels: 1 grey, 3 RGB")
    dropout: bool = limit(False, doc="the official no_dropout default")
    init_gain: float = limit(0.02, gt=0.0, doc="weights N(0, init_gain), biases 0")
    gan_mode: str = limit("least_squares", choices=tuple(LOSSES),
                          doc="adversarial loss (ganrun.losses); least_squares: LSGAN")
    lambda_A: float = limit(10.0, ge=0.0, doc="cycle A -> B -> A")
    lambda_B: float = limit(10.0, ge=0.0, doc="cycle B -> A -> B")
    lambda_identity: float = limit(
        0.5, ge=0.0, doc="identity loss weight, x the cycle lambda of the target domain")
    pool_size: int = limit(50, ge=0, doc="generated images kept for D (an image pool); 0: no pool")
    lr: float = limit(2e-4, ge=0.0, doc="Adam learning rate of the four networks (the "
                                        "discriminators: model.lr_d, when set)")
    lr_d: Optional[float] = limit(
        None, ge=0.0, doc="the discriminators' own Adam learning rate (learning-rate balance); "
                          "null: model.lr, as the official code")
    betas: List[float] = limit([0.5, 0.999], ge=0.0, le=0.9999, doc="Adam's betas")
    n_epochs: int = limit(100, ge=0, doc="epochs at the initial rate")
    n_epochs_decay: int = limit(100, ge=0, doc="epochs of linear decay to zero")
    preview: int = limit(4, ge=1, doc="examples per direction in each epoch's grid")
    # evaluation every metrics.every epochs on the test split (registered evaluators):
    class_evaluator: str = limit(
        "", doc="evaluator of the class kept by A->B (e.g. lenet_mnist); empty: not measured")
    domain_evaluator: str = limit(
        "", doc="evaluator of the share of A->B judged domain B (e.g. strokes_mnist); empty: "
                "not measured")


def make_losses(cfg: CycleGANConfig) -> dict[str, Any]:
    """The adversarial loss chosen by name; L1 for the cycle and identity terms."""
    return {"adversarial": get_loss(cfg.gan_mode, key="model.gan_mode"), "cycle": F.l1_loss,
            "identity": F.l1_loss}


def one_pass(net: nn.Module, *batches: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``net`` applied to each of ``batches``, in one call on their concatenation.

    Only for networks whose output for an image does not depend on the rest of its batch
    (instance norm, no batch norm), as every CycleGAN network is.
    """
    if len(batches) == 1:
        return (net(batches[0]),)
    return net(torch.cat(batches)).split([len(b) for b in batches])


def set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


class CycleGANTrainer(Trainer):
    """Two generators, two discriminators, two image pools, one schedule per optimiser."""

    #: bench/quality_cyclegan.py at equal epochs: bf16 keeps class_kept and domain_b of
    #: fp32 (docs/cyclegan.md, "Speed"), so ``train.precision: auto`` may take bf16
    auto_bf16 = True

    def __init__(self, recipe: Any, generators: dict[str, nn.Module],
                 discriminators: dict[str, nn.Module], losses: dict[str, Any],
                 device: torch.device):
        super().__init__(generators, discriminators, device)
        self.cfg: CycleGANConfig = recipe.model
        self.genAB, self.genBA = generators["genAB"], generators["genBA"]
        self.discA, self.discB = discriminators["discA"], discriminators["discB"]
        self.adv: AdversarialLoss = losses["adversarial"]
        self.cycle, self.identity = losses["cycle"], losses["identity"]
        betas = tuple(self.cfg.betas)
        self.optimizers = {
            "gen": torch.optim.Adam([*self.genAB.parameters(), *self.genBA.parameters()],
                                    lr=self.cfg.lr, betas=betas),
            "disc": torch.optim.Adam([*self.discA.parameters(), *self.discB.parameters()],
                                     lr=self.cfg.lr if self.cfg.lr_d is None else self.cfg.lr_d,
                                     betas=betas),
        }
        self.schedulers = {k: linear_decay(opt, self.cfg.n_epochs, self.cfg.n_epochs_decay)
                           for k, opt in self.optimizers.items()}
        self.pools = {"fakeA": ImagePool(self.cfg.pool_size), "fakeB": ImagePool(self.cfg.pool_size)}
        self.preview_A: torch.Tensor | None = None  # the first training images, kept
        self.preview_B: torch.Tensor | None = None

    # ------------------------------------------------------------------ losses
    def generator_losses(self, realA: torch.Tensor, realB: torch.Tensor
                         ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """Every term of the generators' objective, and the two fakes (for the pools).

        Adversarial (eq. 1, least squares): discB(genAB(realA)) and discA(genBA(realB))
        against "real"; cycle (eq. 2): lambda_A |genBA(genAB(realA)) - realA|_1 and
        lambda_B |genAB(genBA(realB)) - realB|_1; identity (Sec. 5.2):
        lambda_B lambda_idt |genAB(realB) - realB|_1 and lambda_A lambda_idt
        |genBA(realA) - realA|_1.
        """
        c = self.cfg
        identity = c.lambda_identity > 0
        fakeB, *idtB = one_pass(self.genAB, realA, *([realB] if identity else []))
        fakeA, *idtA = one_pass(self.genBA, realB, *([realA] if identity else []))
        terms = {
            "gen_adv_AB": self.adv.g(self.discB(fakeB)),
            "gen_adv_BA": self.adv.g(self.discA(fakeA)),
            "cycle_A": self.cycle(self.genBA(fakeB), realA) * c.lambda_A,
            "cycle_B": self.cycle(self.genAB(fakeA), realB) * c.lambda_B,
        }
        if identity:
            terms["idt_B"] = self.identity(idtB[0], realB) * c.lambda_B * c.lambda_identity
            terms["idt_A"] = self.identity(idtA[0], realA) * c.lambda_A * c.lambda_identity
        return terms, fakeA, fakeB

    def discriminator_loss(self, disc: nn.Module, real: torch.Tensor,
                           fake: torch.Tensor) -> torch.Tensor:
        """0.5 x (loss on real + loss on a (pooled) fake), as the official ``backward_D_basic``."""
        on_real, on_fake = one_pass(disc, real, fake.detach())
        return 0.5 * (self.adv.d_real(on_real) + self.adv.d_fake(on_fake))

    # ------------------------------------------------------------------ step
    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        realA, realB = batch["A"], batch["B"]
        self._keep_preview(realA, realB)
        discs = [self.discA, self.discB]
        set_requires_grad(discs, False)
        self.optimizers["gen"].zero_grad(set_to_none=True)
        terms, fakeA, fakeB = self.generator_losses(realA, realB)
        gen = sum(terms.values())
        self.backward(gen)
        self.step("gen")

        set_requires_grad(discs, True)
        self.optimizers["disc"].zero_grad(set_to_none=True)
        discA = self.discriminator_loss(self.discA, realA, self.pools["fakeA"].query(fakeA))
        discB = self.discriminator_loss(self.discB, realB, self.pools["fakeB"].query(fakeB))
        self.backward(discA + discB)
        self.step("disc")
        return {"gen": gen.detach(), "disc": (discA + discB).detach(), "disc_A": discA.detach(),
                "disc_B": discB.detach(), **{k: v.detach() for k, v in terms.items()}}

    # ------------------------------------------------------------------ preview
    def _keep_preview(self, realA: torch.Tensor, realB: torch.Tensor) -> None:
        """Keep the first ``cfg.preview`` training images of each domain for the grids."""
        n = self.cfg.preview
        for name, real in (("preview_A", realA), ("preview_B", realB)):
            kept = getattr(self, name)
            if kept is None or len(kept) < n:
                new = real.detach()[: n - (0 if kept is None else len(kept))]
                setattr(self, name, new.clone() if kept is None else torch.cat([kept, new]))

    def preview(self) -> tuple[torch.Tensor, int]:
        """Rows of real A | fake B | reconstructed A, then real B | fake A | reconstructed B."""
        rows = []
        for real, forward, back in ((self.preview_A, self.genAB, self.genBA),
                                    (self.preview_B, self.genBA, self.genAB)):
            fake = forward(real)
            rows.append(torch.stack([real, fake, back(fake)], 1).flatten(0, 1))
        return torch.cat(rows), 3

    def judged(self, real, n):
        """discA sees real A and genBA(B); discB sees real B and genAB(A) (preview images)."""
        a, b = self.preview_A[:n], self.preview_B[:n]
        return {"discA": (a, self.genBA(b)), "discB": (b, self.genAB(a))}

    # ------------------------------------------------------------------ state
    def extra_state(self) -> dict[str, Any]:
        return {"pools": {k: p.state_dict() for k, p in self.pools.items()},
                "preview_A": self.preview_A.cpu(), "preview_B": self.preview_B.cpu()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        for k, pool in self.pools.items():
            pool.load_state_dict(state["pools"][k], self.device)
        self.preview_A = state["preview_A"].to(self.device)
        self.preview_B = state["preview_B"].to(self.device)
