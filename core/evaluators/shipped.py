"""What every shipped evaluator shares: its weights file and JSON beside it, loading them,
retraining reproducibly (CPU, one thread, the caller's RNG untouched), and the small
training helpers (random shifts, accuracy).

A retrain is bit-identical only on the machine that made it: another CPU takes other
kernels and sums in another order. So the JSON records, besides the weights' hash, how far
a retrain elsewhere may land from the recorded test accuracy, and the measurement behind
that tolerance (``bench/evaluator_spread.py``).
"""
from __future__ import annotations

import hashlib
import json
import platform
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ganrun.checkpoint import atomic_write
from ganrun.errors import UserError

WEIGHTS_DIR = Path(__file__).parent / "weights"


def file_names(name: str) -> tuple[str, str]:
    """The weights file and the JSON saying how they were made: NAME.safetensors, NAME.json."""
    return f"{name}.safetensors", f"{name}.json"


def load_weights(net: nn.Module, name: str, folder: Path) -> nn.Module:
    """``net`` with the weights ``folder/NAME.safetensors``, in eval mode, gradients off."""
    path = folder / file_names(name)[0]
    if not path.is_file():
        raise UserError(f"evaluator '{name}': weights file {path} not found; "
                        f"recreate it with `ganrun evaluator train {name}`")
    net.load_state_dict(load_file(str(path)))
    return net.eval().requires_grad_(False)


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image (all its channels alike) by up to ``max_shift`` pixels each way; the
    background (-1) fills in."""
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]  # N x H x 1
    cols = (dx[:, None] + torch.arange(w))[:, None, :]  # N x 1 x W
    batch = torch.arange(n)[:, None, None]
    return torch.stack([padded[batch, c, rows, cols] for c in range(x.shape[1])], 1)


@torch.no_grad()
def accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``images`` whose top logit is the label (net in eval mode)."""
    correct = sum(int((net.logits(x).argmax(1) == y).sum())
                  for x, y in zip(images.split(500), labels.split(500)))
    return correct / len(labels)


def fit_classifier(make_net: Callable[[], nn.Module], images: torch.Tensor, labels: torch.Tensor, *,
                   seed: int, epochs: int, batch_size: int, lr: float, weight_decay: float,
                   max_shift: int,
                   loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy
                   ) -> nn.Module:
    """``loss(net.logits(x), labels)``, cross-entropy unless told (for 0/1 attributes,
    ``F.binary_cross_entropy_with_logits``); AdamW with a one-cycle schedule; random shifts."""
    torch.manual_seed(seed)  # initial weights and dropout
    shuffle = torch.Generator().manual_seed(seed)  # batch order and shifts
    net = make_net().train()
    steps = epochs * -(-len(images) // batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    for _ in range(epochs):
        for idx in torch.randperm(len(images), generator=shuffle).split(batch_size):
            x = random_shift(images[idx], max_shift, shuffle)
            value = loss(net.logits(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            sched.step()
    return net


def fit_on_cpu(fit: Callable[[], nn.Module]) -> tuple[nn.Module, float]:
    """Run ``fit()`` on one CPU thread, RNG forked; the trained net (eval, no grads), seconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    started = time.perf_counter()
    try:
        with torch.random.fork_rng(devices=[]):  # leaves the caller's RNG as it was
            net = fit()
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - started
    return net.eval().requires_grad_(False), seconds


def reproducibility(tolerance: float, evidence: str) -> dict[str, Any]:
    """What a retrain reproduces, for the JSON: the bits on one machine, the quality on any."""
    return {
        "same_machine": "bit-identical: retraining on one machine gives the same weights file",
        "other_machines": "other CPUs sum in another order, so the weights differ; the test "
                          "accuracy lands within test_accuracy_tolerance of test_accuracy",
        "test_accuracy_tolerance": tolerance,
        "evidence": evidence,
    }


def save_weights(net: nn.Module, name: str, folder: Path, architecture: str,
                 recipe: dict[str, Any], test_accuracy: float, seconds: float,
                 reproduces: dict[str, Any]) -> dict[str, Any]:
    """Write NAME.safetensors and NAME.json (how it was made, what a retrain reproduces:
    :func:`reproducibility`), each atomically; return the JSON."""
    weights_file, info_file = file_names(name)
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()}
    # one metadata key: safetensors writes several in no fixed order, changing the file's hash
    weights = atomic_write(folder / weights_file, lambda tmp: save_file(
        tensors, tmp, metadata={"format": f"ganrun-evaluator/1 {name}"}))
    info = {
        "name": name,
        "architecture": architecture,
        "parameters": sum(t.numel() for t in tensors.values()),
        **recipe,
        "test_accuracy": test_accuracy,
        "train_time_s": round(seconds, 1),
        "threads": 1,
        "device": "cpu",
        "torch": torch.__version__,
        "machine": platform.machine(),
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "reproducibility": reproduces,
        "command": f"ganrun evaluator train {name}",
    }
    text = json.dumps(info, indent=2) + "\n"
    atomic_write(folder / info_file, lambda tmp: Path(tmp).write_text(text))
    return info
