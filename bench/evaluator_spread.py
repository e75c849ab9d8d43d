"""How far a retrain of a shipped evaluator can land from the recorded test accuracy.

    .venv/bin/python bench/evaluator_spread.py [--seeds N]

Training is bit-identical only on one kind of CPU: another instruction set takes other
kernels, sums come out in another order, and the difference grows over the steps. This
script makes such other float paths on one machine and retrains each shipped evaluator
along them: the recipe's seed with oneDNN's kernels turned off (PyTorch's own convolution
and matmul code, a different summation order), and the recipe with seeds 1..N (a larger
perturbation: other initial weights and batch order). Each retrain's test accuracy is
compared with the one recorded in the evaluator's JSON, made on another machine.

The largest deviation bounds what a retrain elsewhere gives; each evaluator's
``ACCURACY_TOLERANCE`` (written into its JSON) is set above it. Last line:
``lenet_max_dev=<v> strokes_max_dev=<v> lenet_tolerance=<v> strokes_tolerance=<v>``.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return platform.processor() or "unknown"
    line = next((l for l in out.splitlines() if l.startswith("Model name")), "")
    return line.partition(":")[2].strip() or "unknown"


def spread(module, train, seeds: int) -> float:
    recorded = json.loads((module.WEIGHTS_DIR / module.INFO_FILE).read_text())["test_accuracy"]
    variants = [("seed %d, oneDNN off" % module.SEED, module.SEED, False),
                ("seed %d (this machine)" % module.SEED, module.SEED, True)]
    variants += [(f"seed {s}", s, True) for s in range(module.SEED + 1, module.SEED + 1 + seeds)]
    deviations = []
    for label, seed, onednn in variants:
        with tempfile.TemporaryDirectory() as tmp, torch.backends.mkldnn.flags(enabled=onednn):
            acc = train(Path(tmp), seed=seed)["test_accuracy"]
        deviations.append(abs(acc - recorded))
        print(f"  {module.NAME} {label}: test_accuracy {acc:.3f} "
              f"(recorded {recorded:.3f}, deviation {acc - recorded:+.3f})", flush=True)
    return max(deviations)


def main() -> None:
    from ganrun.evaluators import lenet, strokes

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=9, help="other seeds to train (default 9)")
    args = p.parse_args()
    warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
    print(f"cpu: {cpu_model()}; torch {torch.__version__}")
    lenet_dev = spread(lenet, lenet.train_lenet_mnist, args.seeds)
    strokes_dev = spread(strokes, strokes.train_strokes_mnist, args.seeds)
    print(f"lenet_max_dev={lenet_dev:.3f} strokes_max_dev={strokes_dev:.3f} "
          f"lenet_tolerance={lenet.ACCURACY_TOLERANCE} "
          f"strokes_tolerance={strokes.ACCURACY_TOLERANCE}")


if __name__ == "__main__":
    main()
