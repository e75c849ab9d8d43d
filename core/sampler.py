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
        if state.get("world_size", 1) != 1:
            raise_world_mismatch(state["world_size"], 1)
        self.generator.set_state(state["rng"])
        self.start = int(state["done"])


class ShardedBatches(Sampler[list[int]]):
    """This rank's batches under torchrun: torch's ``DistributedSampler`` (each epoch a new
    permutation from the seed and the epoch, cut into one shard per rank, padded so that
    every rank has as many images) in batches of ``global_batch / world_size``. Every rank
    has the same number of batches, so the ranks' steps stay in lockstep."""

    def __init__(self, n: int, global_batch: int, drop_last: bool, seed: int, rank: int,
                 world_size: int):
        from torch.utils.data import DistributedSampler

        self.world_size = world_size
        self.batch_size = global_batch // world_size
        self.drop_last = drop_last
        self.shard = DistributedSampler(range(n), num_replicas=world_size, rank=rank,
                                        shuffle=True, seed=seed, drop_last=drop_last)
        self.epoch = 0  # epochs drawn: the next one's permutation is the shard's set_epoch
        self.start = 0

    def __len__(self) -> int:
        n = len(self.shard)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        self.shard.set_epoch(self.epoch)
        self.epoch += 1
        order = list(self.shard)
        start, self.start = self.start, 0
        for b in range(start, len(self)):
            yield order[b * self.batch_size: (b + 1) * self.batch_size]

    def state_dict(self, done: int) -> dict[str, Any]:
        epoch = self.epoch - 1 if done else self.epoch  # the epoch in progress, or the next
        return {"epoch": epoch, "done": done, "world_size": self.world_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("world_size", 1) != self.world_size:
            raise_world_mismatch(state.get("world_size", 1), self.world_size)
        self.epoch, self.start = int(state["epoch"]), int(state["done"])


def raise_world_mismatch(saved: int, now: int) -> None:
    from ganrun.errors import UserError

    raise UserError(f"--resume: the checkpoint was written by a run of {saved} process(es); "
                    f"resume it with {saved} (torchrun --nproc_per_node ...), not {now}")
