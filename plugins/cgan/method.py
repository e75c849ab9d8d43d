"""The conditional GAN's recipe schema and trainer: the DCGAN step with classes added.

Only what the networks are given changes: G gets (noise, class) with classes drawn
uniformly, D gets (image, class) with the real batch's labels or the classes G was asked
for. The two-tape step, losses and optimisers are the dcgan trainer's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ganrun.schema import limit
from ganrun_plugins.dcgan.method import DCGANConfig, DCGANTrainer, make_noise


@dataclass
class CGANConfig(DCGANConfig):
    """``model`` section of a cgan recipe: the dcgan settings plus the number of classes."""

    num_classes: int = limit(10, ge=2, doc="classes G and D are conditioned on")


def class_rows(noise: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The same ``n`` noise vectors for every class: (n*K noise, labels 0..0, 1..1, ...)."""
    n = len(noise)
    labels = torch.arange(num_classes, device=noise.device).repeat_interleave(n)
    return noise.repeat(num_classes, 1), labels


class CGANTrainer(DCGANTrainer):
    """Conditional DCGAN: the grid is one row per class, the same 10 seeds in each row."""

    auto_bf16 = False  # its quality in bf16 (cond_acc) is not measured yet
    preview_seeds = 10

    def __init__(self, recipe: Any, *args: Any, **kwargs: Any):
        super().__init__(recipe, *args, **kwargs)
        self.num_classes = recipe.model.num_classes
        self.preview_nrow = self.preview_seeds

    def generator_inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        noise = make_noise(self.noise_batch, self.cfg.noise_dim, device=self.device)
        labels = torch.randint(self.num_classes, (self.noise_batch,), device=self.device)
        return noise, labels

    def real_inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        return (batch["label"],)

    def discriminate(self, images: torch.Tensor, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return self.D(images, *inputs)

    def preview_inputs(self) -> tuple[torch.Tensor, ...]:
        return class_rows(self.fixed_noise, self.num_classes)
