"""Numeric precision of a training step: ``train.precision`` fp32, bf16 or fp16.

bf16 and fp16 are PyTorch's automatic mixed precision: the step's forward passes run under
``torch.autocast`` (matrix products and convolutions in the low precision, reductions and
losses in fp32), the backward passes outside it, and the weights and optimiser state stay
fp32. fp16's narrow range needs a gradient scaler (``torch.amp.GradScaler``): the loss is
multiplied before the backward pass, the gradients divided before the optimiser step, and a
step whose gradients overflowed is skipped while the scale shrinks. bf16 has fp32's range
and needs none. Both work on CUDA; on a CPU, bf16 is fast where the CPU computes it natively
(AVX512-BF16 or AMX), and merely emulated (slower than fp32) elsewhere, so asking for bf16
there is refused. ``auto`` takes bf16 where the device computes it natively and the method
says its quality holds in it (``Trainer.auto_bf16``, set by a method that measured it), and
fp32 otherwise.
"""
from __future__ import annotations

import contextlib
from typing import ContextManager

import torch

from ganrun.errors import UserError

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively (CUDA with bf16; a CPU with AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cpu_bf16_kind() -> str:
    """The CPU's native bf16 instructions as Linux names them (``amx_bf16``, ``avx512_bf16``)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    return "+".join(k for k in ("amx_bf16", "avx512_bf16") if k in flags) or "none"


def check_precision(name: str, device: torch.device) -> None:
    """Refuse, before anything is built, bf16 on a device that would only emulate it."""
    if name == "bf16" and not native_bf16(device):
        where = "this GPU" if device.type == "cuda" else "this CPU (no AVX512-BF16 or AMX)"
        raise UserError(f"train.precision: bf16 is emulated on {where}, slower than fp32; "
                        f"use fp32, or auto to take bf16 only where it is native")


def resolve_precision(name: str, device: torch.device, method_allows_bf16: bool) -> tuple[str, str]:
    """``train.precision`` as run (``auto`` decided) and a few words on why."""
    if name != "auto":
        return name, "as the recipe asks"
    if not native_bf16(device):
        return "fp32", f"auto: {device.type} without native bf16"
    if not method_allows_bf16:
        return "fp32", "auto: the method has not measured its quality in bf16"
    kind = "CUDA" if device.type == "cuda" else cpu_bf16_kind()
    return "bf16", f"auto: native bf16 ({kind}), quality measured by the method"


class Precision:
    """Autocast for the forward passes and, for fp16, the gradient scaler."""

    def __init__(self, name: str = "fp32", device: torch.device = torch.device("cpu")):
        self.name, self.device_type = name, device.type
        self.dtype = DTYPES[name]
        self.scaler = torch.amp.GradScaler(device.type) if name == "fp16" else None

    @property
    def mixed(self) -> bool:
        return self.dtype is not None

    def autocast(self) -> ContextManager:
        """Where the step's forward passes run."""
        if not self.mixed:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def full(self) -> ContextManager:
        """Autocast off: for backward passes, which follow their forward's dtypes anyway."""
        if not self.mixed:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, enabled=False)

    def scale(self, loss: torch.Tensor) -> torch.Tensor:
        return self.scaler.scale(loss) if self.scaler is not None else loss

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """``optimizer.step()``; with the scaler, unscale first and skip on overflow."""
        if self.scaler is not None:
            self.scaler.step(optimizer)
        else:
            optimizer.step()

    def update(self) -> None:
        """Once per training step, after every optimiser step: adjust the fp16 scale."""
        if self.scaler is not None:
            self.scaler.update()

    def state_dict(self) -> dict:
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
