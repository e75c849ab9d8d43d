"""Where and how the networks run: the device, memory format, compilation, SyncBatchNorm.

None of it is needed on a CPU: ``train.device: cpu`` with the defaults runs every method.
``train.device: auto`` takes CUDA when present; under torchrun each process takes the GPU of
its ``LOCAL_RANK``. On CUDA cuDNN's autotuner is on (the shapes of a run are fixed).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganrun.distributed import Ranks
from ganrun.errors import UserError


def resolve_device(spec: str, ranks: Ranks | None = None) -> torch.device:
    """``train.device`` as a device; under torchrun, ``cuda`` means this rank's GPU."""
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise UserError(f"train.device: '{spec}' is not a device (cpu, cuda, cuda:N, auto)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"train.device: '{spec}' asked for, but this machine has no CUDA device")
        if ranks is not None and ranks.active and device.index is None:
            device = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
    return device


def check_train_options(train: Any, device: torch.device) -> None:
    """Refuse, before anything is built, options this device cannot honour."""
    if train.sync_batchnorm and device.type != "cuda":
        raise UserError("train.sync_batchnorm: torch's SyncBatchNorm runs on CUDA devices only; "
                        "on CPUs each process normalises its own share of the batch")


def prepare_network(net: nn.Module, train: Any, device: torch.device) -> nn.Module:
    """``net`` on ``device``, converted as ``train`` asks: SyncBatchNorm, channels_last,
    compiled. The parameters stay the same objects' names: checkpoints and exports do not
    change (``nn.Module.compile`` compiles in place)."""
    if train.sync_batchnorm:
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    net = net.to(device)
    if train.channels_last:
        net = net.to(memory_format=torch.channels_last)
    if train.compile:
        net.compile()
    return net


def move_batch(batch: dict[str, torch.Tensor], device: torch.device,
               channels_last: bool = False) -> dict[str, torch.Tensor]:
    """A batch's tensors on ``device``; image batches (4-D) in NHWC when ``channels_last``."""
    out = {}
    for k, v in batch.items():
        v = v.to(device, non_blocking=True)
        if channels_last and v.dim() == 4:
            v = v.contiguous(memory_format=torch.channels_last)
        out[k] = v
    return out
