"""The image pool of Shrivastava et al. 2017, used by CycleGAN (Zhu et al. 2017, Sec. 4).

The discriminator is shown a mix of the newest fakes and ones generated earlier, which
damps oscillation. ``query`` follows the official implementation: until the pool holds
``size`` images each new image is stored and returned; after that, with probability 0.5 a
random stored image is returned and replaced by the new one, otherwise the new one is
returned. Randomness comes from Python's ``random`` module, whose state ganrun checkpoints.
"""
from __future__ import annotations

import random
from typing import Any

import torch


class ImagePool:
    def __init__(self, size: int = 50):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Images (N x C x H x W) to show the discriminator in place of ``images``."""
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif random.uniform(0, 1) > 0.5:
                i = random.randint(0, self.size - 1)
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out, 0)

    def __len__(self) -> int:
        return len(self.images)

    def state_dict(self) -> dict[str, Any]:
        """The stored images as one CPU tensor (loads with ``weights_only=True``)."""
        stored = torch.cat(self.images).cpu() if self.images else torch.empty(0)
        return {"size": self.size, "images": stored}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str = "cpu") -> None:
        self.size = int(state["size"])
        self.images = [im.unsqueeze(0).to(device) for im in state["images"]]
