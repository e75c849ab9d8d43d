"""Numeric precision of a training step: ``train.precision`` fp32, bf16 or fp16.

bf16 and fp16 are PyTorch's automatic mixed precision: the step's forward passes run under
``torch.autocast`` (matrix products and convolutions in the low precision, reductions and
losses in fp32), the backward passes outside it, and the weights and optimiser state stay
fp32. fp16's narrow range needs a gradient scaler (``torch.amp.GradScaler``): the loss is
multiplied before the backward pass, the gradients divided before the optimiser step, and a
step whose gradients overflowed is skipped while the scale shrinks. bf16 has fp32's range
and needs none. Both work on CUDA; on a CPU, bf16 is fast where the CPU computes it natively
(AVX512-BF16 or AMX), and merely emulated elsewhere.
"""
from __future__ import annotations

import contextlib
from typing import ContextManager

import torch

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively (CUDA with bf16; a CPU with AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


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
