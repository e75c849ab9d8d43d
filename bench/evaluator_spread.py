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
``ACCURACY_TOLERANCE`` (written into its JSON) is set above it. ``--only NAME ...`` measures
some of them. Last line, for each evaluator measured: ``<short>_max_dev=<v>``, then
``<short>_tolerance=<v>`` (short names: lenet, strokes, attributes, styles).
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


def evaluators() -> dict[str, tuple]:
    """short name -> (module, its train function), for every evaluator the project trains."""
    from ganrun.evaluators import attributes, lenet, strokes, styles

    return {"lenet": (lenet, lenet.train_lenet_mnist),
            "strokes": (strokes, strokes.train_strokes_mnist),
            "attributes": (attributes, attributes.train_attributes_mnist),
            "styles": (styles, styles.train_styles_mnist)}


def main() -> None:
    table = evaluators()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=9, help="other seeds to train (default 9)")
    p.add_argument("--only", nargs="+", choices=sorted(table), default=list(table),
                   help="the evaluators to measure (default: all)")
    args = p.parse_args()
    warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
    print(f"cpu: {cpu_model()}; torch {torch.__version__}")
    chosen = [name for name in table if name in args.only]
    devs = {name: spread(*table[name], args.seeds) for name in chosen}
    print(" ".join([f"{name}_max_dev={devs[name]:.3f}" for name in chosen]
                   + [f"{name}_tolerance={table[name][0].ACCURACY_TOLERANCE}" for name in chosen]))


if __name__ == "__main__":
    main()
