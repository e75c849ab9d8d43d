"""The order in which an epoch visits the training set, resumable at any batch.

Each epoch draws a permutation from the run's data generator (the order PyTorch's shuffling
``DataLoader`` draws) and cuts it into batches. A checkpoint taken inside an epoch records
the generator's state at the epoch's start and how many batches were done: on resume the
same permutation is drawn again and the next batch is the first one handed out, so no batch
is seen twice and none is skipped.
"""
from __future__ import annotations

from typing import Any, Iterator

import torch
from torch.utils.data import Sampler


class EpochBatches(Sampler[list[int]]):
    """Shuffled batches of ``range(n)`` for a ``DataLoader``'s ``batch_sampler``."""

    def __init__(self, n: int, batch_size: int, drop_last: bool, generator: torch.Generator):
        self.n, self.batch_size, self.drop_last = n, batch_size, drop_last
        self.generator = generator
        self.epoch_start: torch.Tensor | None = None  # the generator before this epoch's draw
        self.start = 0  # batches of the next epoch to skip (a resumed position)

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        self.epoch_start = self.generator.get_state()
        order = torch.randperm(self.n, generator=self.generator).tolist()
        start, self.start = self.start, 0
        for b in range(start, len(self)):
            yield order[b * self.batch_size: (b + 1) * self.batch_size]

    def state_dict(self, done: int) -> dict[str, Any]:
        """Where to resume when ``done`` batches of the current epoch are finished (0: at an
        epoch boundary, where the next epoch draws from the generator as it is now)."""
        rng = self.epoch_start if done and self.epoch_start is not None else self.generator.get_state()
        return {"rng": rng, "done": done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["rng"])
        self.start = int(state["done"])
