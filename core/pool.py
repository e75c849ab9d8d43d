"""The image pool of Shrivastava et al. 2017, used by CycleGAN (Zhu et al. 2017, Sec. 4).

The discriminator is shown a mix of the newest fakes and ones generated earlier, which
damps oscillation. ``query`` follows the official implementation: until the pool holds
``size`` images each new image is stored and returned; after that, with probability 0.5 a
random stored image is returned and replaced by the new one, otherwise the new one is
returned (the same random draws, in the same order). Randomness comes from Python's
``random`` module, whose state ganrun checkpoints.
"""
from __future__ import annotations

import random
from typing import Any

import torch


def own_copy(image: torch.Tensor) -> torch.Tensor:
    """``image`` (C x H x W) as a 1 x C x H x W tensor with storage of its own."""
    return image.unsqueeze(0).clone(memory_format=torch.contiguous_format)


class ImagePool:
    def __init__(self, size: int = 50):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Images (N x C x H x W) to show the discriminator in place of ``images``.

        The pool keeps its own compact copy of each image it stores (a view would pin the
        whole batch it came from: up to ``size`` batches); the batch is returned as it
        came, without a copy, unless earlier images were swapped into it.
        """
        images = images.detach()
        if self.size == 0:
            return images
        swaps: dict[int, torch.Tensor] = {}  # batch index -> the earlier image shown there
        for k, image in enumerate(images):
            if len(self.images) < self.size:
                self.images.append(own_copy(image))
            elif random.uniform(0, 1) > 0.5:
                i = random.randint(0, self.size - 1)
                swaps[k], self.images[i] = self.images[i], own_copy(image)
        if not swaps:
            return images
        out = images.clone()  # same dtype and memory format as the batch
        for k, earlier in swaps.items():
            out[k] = earlier[0]
        return out

    def __len__(self) -> int:
        return len(self.images)

    def state_dict(self) -> dict[str, Any]:
        """The stored images as one CPU tensor (loads with ``weights_only=True``)."""
        stored = torch.cat(self.images).cpu() if self.images else torch.empty(0)
        return {"size": self.size, "images": stored}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str = "cpu") -> None:
        self.size = int(state["size"])
        self.images = [im.unsqueeze(0).to(device) for im in state["images"]]
