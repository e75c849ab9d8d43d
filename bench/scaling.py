"""Images per second at 1 and 2 processes (torchrun, gloo, one thread each), dcgan and cyclegan.

    .venv/bin/python bench/scaling.py [--repeats 3] [--dcgan-images 4096] [--cyclegan-images 16]

Each repeat trains a short run of each method on 1 process, then the same recipe on 2
processes through ``torchrun`` (127.0.0.1), alternated so a noisy machine slows both alike:

* dcgan: ``recipes/quickstart.yaml`` (quarter-width tutorial networks), global batch 256;
* cyclegan: the official networks of ``recipes/cyclegan_horse2zebra.yaml`` (ResNet-9 G,
  70x70 PatchGAN D: 28.3M parameters averaged every step) at 128x128, global batch 4, on
  random 128x128 images the script writes (the horse2zebra layout: the speed does not depend
  on what the pixels show; the data is not downloaded).

A run's throughput is the images of its last epoch over that epoch's seconds
(``time/epoch_seconds``: the first epoch, with its warm-up, is not counted). The global batch
is the recipe's: each of 2 processes trains on half of it, and the gradients are averaged
over the two before every optimiser step (core/distributed.py).

``efficiency_2proc`` = (2-process images/s) / (2 x 1-process images/s), the median over
repeats; 1.0 is perfect scaling. On a machine with CUDA it also trains each method on the
GPU in fp32, bf16, fp16, and fp32 + channels_last, and prints their speed-ups over fp32.

Last line: ``efficiency_2proc=<cyclegan> efficiency_2proc_dcgan=<dcgan> [speedup_...=...]``.
Target (issue 13): efficiency_2proc >= 0.85 for cyclegan.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def random_photos(root: Path, n: int, side: int = 143) -> Path:
    """``n`` random RGB images in each of trainA/ trainB/ testA/ testB/ under ``root``."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("trainA", "trainB", "testA", "testB"):
        (root / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(
                root / split / f"{i}.png")
    return root


def recipes(args: argparse.Namespace, photos: Path) -> dict[str, tuple[str, list[str], int]]:
    """method -> (recipe, overrides, images per epoch)."""
    common = ["track.enabled=false", "metrics.every=0", "train.checkpoint_every=0",
              "train.checkpoint_every_minutes=0", "train.threads=1", "train.epochs=2"]
    return {
        "dcgan": ("quickstart.yaml", [*common, f"data.limit={args.dcgan_images}",
                                      "train.batch_size=256"], args.dcgan_images),
        "cyclegan": ("cyclegan_horse2zebra.yaml", [*common, f"data.root={photos}",
                                                  "data.load_size=143", "data.crop_size=128",
                                                  "train.device=cpu", "train.batch_size=4"],
                     args.cyclegan_images),
    }


def images_per_second(recipe: str, overrides: list[str], images: int, procs: int,
                      work: Path) -> float:
    summary = work / "s.json"
    summary.unlink(missing_ok=True)
    args = [str(REPO / "recipes" / recipe), *overrides, "--summary-json", str(summary)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if procs == 1:
        cmd = [str(BIN / "ganrun"), *args]
    else:
        cmd = [str(BIN / "torchrun"), "--nproc_per_node", str(procs), "--master_addr",
               "127.0.0.1", "--master_port", str(free_port()), "-m", "ganrun", *args]
    done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    seconds = json.loads(summary.read_text())["metrics"]["time/epoch_seconds"]
    return images / seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dcgan-images", type=int, default=4096)
    p.add_argument("--cyclegan-images", type=int, default=16)
    args = p.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    print(f"CPU: {cpu}, {os.cpu_count()} cores; torch threads per process: 1")
    efficiency: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runs = recipes(args, random_photos(work / "photos", args.cyclegan_images))
        for method, (recipe, overrides, images) in runs.items():
            ratios = []
            for r in range(args.repeats):
                one = images_per_second(recipe, overrides, images, 1, work)
                two = images_per_second(recipe, overrides, images, 2, work)
                ratios.append(two / (2 * one))
                print(f"{method} repeat {r + 1}: 1 process {one:.3g} img/s, 2 processes "
                      f"{two:.3g} img/s, efficiency {ratios[-1]:.3f}", flush=True)
            efficiency[method] = statistics.median(ratios)
        speedups = gpu_speedups(runs, work)
    line = f"efficiency_2proc={efficiency['cyclegan']:.3f} efficiency_2proc_dcgan={efficiency['dcgan']:.3f}"
    line += "".join(f" {k}={v:.2f}" for k, v in speedups.items())
    print(line)


def gpu_speedups(runs: dict[str, tuple[str, list[str], int]], work: Path) -> dict[str, float]:
    """On CUDA: images/s of bf16, fp16 and channels_last over fp32, per method (one process)."""
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: GPU precision speed-ups not measured")
        return {}
    out = {}
    for method, (recipe, overrides, images) in runs.items():
        gpu = [o for o in overrides if not o.startswith(("train.threads", "train.device"))]
        gpu.append("train.device=cuda")
        base = images_per_second(recipe, gpu, images, 1, work)
        for name, extra in (("bf16", ["train.precision=bf16"]), ("fp16", ["train.precision=fp16"]),
                            ("channels_last", ["train.channels_last=true"]),
                            ("bf16_channels_last", ["train.precision=bf16", "train.channels_last=true"])):
            out[f"speedup_{name}_{method}"] = images_per_second(recipe, gpu + extra, images, 1, work) / base
            print(f"{method} on {torch.cuda.get_device_name()}: {name} x{out[f'speedup_{name}_{method}']:.2f} "
                  f"over fp32 ({base:.0f} img/s)", flush=True)
    return out


if __name__ == "__main__":
    main()
