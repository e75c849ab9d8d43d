"""The CAM classifier's recipe schema and training step (Zhou et al. 2016, Sec. 2).

The classifier is trained on image labels only, with cross-entropy on the GAP + linear
logits; the boxes come afterwards, from its weights. Each batch is shifted by one random
offset (background filling in), so the network cannot learn where digits tend to sit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganrun.schedules import cosine_decay
from ganrun.schema import limit
from ganrun.trainer import Trainer
from ganrun_plugins.cam.cam import box_from_map, cam_for
from ganrun_plugins.cam.overlay import render_overlay

CLASSIFIER = "classifier"


@dataclass
class CAMConfig:
    """``model`` section of a cam recipe."""

    channels: int = limit(1, ge=1, doc="image channels: 1 grey, 3 RGB")
    num_classes: int = limit(10, ge=2, doc="classes the classifier tells apart")
    widths: List[int] = limit([16, 32, 32, 64], ge=1, doc="conv blocks; the last is the CAM conv")
    pools: int = limit(1, ge=0, doc="2x2 max pools after the first blocks (map stride 2^pools)")
    batchnorm: bool = limit(True, doc="BatchNorm after each conv")
    lr: float = limit(3e-3, gt=0.0, doc="Adam, cosine-annealed to zero over the run's steps")
    weight_decay: float = limit(0.0, ge=0.0, doc="Adam's weight decay")
    shift: int = limit(6, ge=0, doc="random shift of each batch, pixels each way")
    preview: int = limit(8, ge=1, doc="images in each epoch's grid of CAM overlays")


def random_shift(x: torch.Tensor, k: int) -> torch.Tensor:
    """The batch moved by one random offset in [-k, k]^2 (torch's RNG); -1 fills in."""
    if k == 0:
        return x
    dy, dx = torch.randint(0, 2 * k + 1, (2,)).tolist()
    h, w = x.shape[-2:]
    return F.pad(x, (k, k, k, k), value=-1.0)[..., dy : dy + h, dx : dx + w]


class CAMTrainer(Trainer):
    """One classifier, one Adam, a per-step cosine schedule; exports the classifier."""

    def __init__(self, recipe: Any, discriminators: dict[str, nn.Module],
                 losses: dict[str, Any], device: torch.device):
        super().__init__({}, discriminators, device)
        self.cfg: CAMConfig = recipe.model
        self.net = discriminators[CLASSIFIER]
        self.loss = losses["classification"]
        self.optimizers = {CLASSIFIER: torch.optim.Adam(self.net.parameters(), lr=self.cfg.lr,
                                                        weight_decay=self.cfg.weight_decay)}
        self.preview_images: torch.Tensor | None = None

    def prepare(self, steps_per_epoch: int, epochs: int) -> None:
        """The cosine schedule runs over every step of the run."""
        self.schedulers = {CLASSIFIER: cosine_decay(self.optimizers[CLASSIFIER],
                                                    steps_per_epoch * epochs)}

    def end_epoch(self, epoch: int) -> None:
        """Nothing per epoch: the schedule steps with every batch."""

    def exports(self) -> dict[str, nn.Module]:
        return {CLASSIFIER: self.net}

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.preview_images is None:
            self.preview_images = batch["image"][: self.cfg.preview].detach().clone()
        logits = self.net(random_shift(batch["image"], self.cfg.shift))
        loss = self.loss(logits, batch["label"])
        opt = self.optimizers[CLASSIFIER]
        opt.zero_grad(set_to_none=True)
        self.backward(loss)
        self.step(CLASSIFIER)
        self.schedulers[CLASSIFIER].step()
        # logged as loss/cls and loss/cls_acc (epoch/...: their epoch means), the names
        # eval/cls_acc echoes on the test canvases
        return {"cls": loss.detach(),
                "cls_acc": (logits.detach().argmax(1) == batch["label"]).float().mean()}

    def preview(self) -> tuple[torch.Tensor, int]:
        """CAM overlays of the predicted class, with their boxes, on the first training images."""
        maps, _ = cam_for(self.net, self.preview_images)
        pictures = [np.asarray(render_overlay(x, m, box_from_map(m), scale=1))
                    for x, m in zip(self.preview_images, maps)]
        rgb = torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2)
        return rgb.float() / 127.5 - 1, 4

    def extra_state(self) -> dict[str, Any]:
        return {"preview": self.preview_images.cpu()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.preview_images = state["preview"].to(self.device)
