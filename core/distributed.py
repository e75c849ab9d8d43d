"""Several processes, one run: torchrun's environment, the process group, and what the ranks
must agree on.

``torchrun --nproc_per_node N [--nnodes M --rdzv-endpoint HOST:PORT] -m ganrun RECIPE ...``
sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in each process; :func:`from_env` reads them
and :func:`start` joins the process group (gloo on CPU, nccl on CUDA). Each rank trains on its
shard of every global batch, and before every optimiser step the gradients of that
optimiser's parameters are averaged over the ranks (:func:`average_gradients`), whichever
way the method computed them: ``loss.backward()`` or ``torch.autograd.grad`` (DDP's
all-reduce hooks fire only on ``.backward()``, so a two-tape step under plain DDP would leave
the ranks drifting apart). NVIDIA's StyleGAN2-ADA and StyleGAN3 training loops synchronise
their GAN updates the same way, with ``torch.distributed.all_reduce`` of flat gradients.

After each step the ranks agree on the step's losses (their mean) and on whether to stop (a
signal on any rank, a health alarm on rank 0), so every rank leaves the loop at the same
step. At each epoch's end rank 0's buffers (BatchNorm statistics) are copied to the others
and the ranks compare a digest of their parameters: a run whose ranks differ fails loudly.
"""
from __future__ import annotations

import datetime
import hashlib
import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
import torch.distributed as dist
from torch import nn

from ganrun.errors import UserError

TIMEOUT = datetime.timedelta(minutes=60)  # rank 0 may evaluate (FID) while the rest wait
BUCKET_BYTES = 64 << 20  # gradients are averaged in flat buffers of at most this size


@dataclass(frozen=True)
class Ranks:
    """This process's place among the run's processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, grids, exports and tracking."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


SINGLE = Ranks()


def from_env(environ: dict[str, str] | None = None) -> Ranks:
    """The ranks torchrun describes in the environment (``SINGLE`` outside torchrun)."""
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env:
        return SINGLE
    try:
        return Ranks(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)))
    except (KeyError, ValueError):
        raise UserError("RANK / WORLD_SIZE / LOCAL_RANK: not the integers torchrun sets; "
                        "start several processes with torchrun") from None


def current() -> Ranks:
    """The ranks of the process group this process has joined (``SINGLE`` if none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return SINGLE
    return Ranks(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def local_batch(global_batch: int) -> int:
    """Images per rank of a global batch of ``global_batch`` (``train.batch_size``)."""
    return global_batch // current().world_size


def start(ranks: Ranks, device: torch.device) -> None:
    """Join the process group torchrun prepared: nccl for CUDA devices, gloo for CPUs."""
    if not ranks.active or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, timeout=TIMEOUT)


def stop() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# ---------------------------------------------------------------------- tensors
def average_gradients(params: Iterable[torch.Tensor]) -> None:
    """Replace each parameter's ``.grad`` by its mean over the ranks, in flat buckets (one
    all-reduce per bucket, as DDP does). Parameters without a gradient are skipped; every
    rank has the same ones, since every rank runs the same step."""
    ranks = current()
    if not ranks.active:
        return
    grads = [p.grad for p in params if p.grad is not None]
    for bucket in _buckets(grads):
        flat = torch.cat([g.reshape(-1) for g in bucket])
        dist.all_reduce(flat)
        flat /= ranks.world_size
        offset = 0
        for g in bucket:
            g.copy_(flat[offset: offset + g.numel()].view_as(g))
            offset += g.numel()


def _buckets(tensors: Sequence[torch.Tensor]) -> Iterable[list[torch.Tensor]]:
    """Consecutive runs of tensors of one dtype and device, each at most ``BUCKET_BYTES``."""
    bucket: list[torch.Tensor] = []
    size = 0
    for t in tensors:
        nbytes = t.numel() * t.element_size()
        if bucket and (size + nbytes > BUCKET_BYTES or (t.dtype, t.device) != (bucket[0].dtype, bucket[0].device)):
            yield bucket
            bucket, size = [], 0
        bucket.append(t)
        size += nbytes
    if bucket:
        yield bucket


def broadcast_state(networks: Iterable[nn.Module], buffers_only: bool = False) -> None:
    """Copy rank 0's parameters (unless ``buffers_only``) and buffers to every rank."""
    if not current().active:
        return
    for net in networks:
        tensors = list(net.buffers()) if buffers_only else [*net.parameters(), *net.buffers()]
        for t in tensors:
            dist.broadcast(t.data, src=0)


def digest(networks: Iterable[nn.Module]) -> str:
    """SHA-256 of every parameter and buffer, in order: equal exactly when the bytes are."""
    h = hashlib.sha256()
    for net in networks:
        for name, t in net.state_dict().items():
            h.update(name.encode())
            h.update(t.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def gather_objects(obj: object) -> list:
    """``obj`` of every rank, in rank order (``[obj]`` outside a process group)."""
    ranks = current()
    if not ranks.active:
        return [obj]
    out: list = [None] * ranks.world_size
    dist.all_gather_object(out, obj)
    return out


def gather_floats(values: Sequence[float], device: torch.device) -> torch.Tensor:
    """A (world_size x len(values)) tensor of every rank's ``values`` (one collective)."""
    mine = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    ranks = current()
    if not ranks.active:
        return mine[None]
    out = [torch.empty_like(mine) for _ in range(ranks.world_size)]
    dist.all_gather(out, mine)
    return torch.stack(out).cpu()


def broadcast_object(obj: object) -> object:
    """Rank 0's ``obj`` on every rank."""
    if not current().active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


# ---------------------------------------------------------------------- agreement
STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")


def agree_on_step(losses: dict[str, float], signal: int | None,
                  device: torch.device) -> tuple[dict[str, float], int | None]:
    """The step's losses averaged over the ranks, and a stopping signal any rank received."""
    keys = list(losses)  # the same order on every rank: the same code made them
    table = gather_floats([losses[k] for k in keys] + [signal or 0], device)
    mean = table[:, :-1].mean(0).tolist()
    received = int(table[:, -1].max())
    return dict(zip(keys, mean)), (received or None)


def agree_on_stop(stop: tuple[str, int] | None,
                  device: torch.device) -> tuple[int, str, int] | None:
    """``(rank, status, exit code)`` of the first rank asking to stop (``stop``: this rank's
    status and exit code, or None), or None when every rank goes on."""
    status, code = stop if stop else ("RUNNING", 0)
    table = gather_floats([1.0 if stop else 0.0, STATUSES.index(status), code], device)
    stopping = [r for r in range(len(table)) if table[r, 0] > 0]
    if not stopping:
        return None
    r = stopping[0]
    return r, STATUSES[int(table[r, 1])], int(table[r, 2])


def check_identical(networks: Iterable[nn.Module]) -> None:
    """Fail when the ranks' parameters or buffers are not bit-identical."""
    digests = gather_objects(digest(networks))
    differ = [r for r, d in enumerate(digests) if d != digests[0]]
    if differ:
        raise RuntimeError(f"ranks {differ} hold other weights than rank 0: the ranks have "
                           f"diverged (a gradient not averaged, or a step taken on one rank)")
