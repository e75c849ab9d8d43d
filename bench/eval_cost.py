"""What an evaluation costs beside the epoch it follows, for every recipe that runs offline.

Each embedded recipe trains for 2 epochs with an evaluation after each (``metrics.every=1``,
the recipe's own ``metrics.samples``), tracking off; the second epoch's
``time/eval_seconds`` / ``time/epoch_seconds`` is the share (the first evaluation also
measures the real data once, reported apart as ``time/eval_setup_seconds``). Recipes that
need data a user downloads (horse2zebra, CelebA) are left out.

    .venv/bin/python bench/eval_cost.py [RECIPE ...]

Last line: ``max_eval_share=<largest share> recipe=<its recipe>``; target <= 0.10.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OFFLINE = ("quickstart.yaml", "dcgan_mnist.yaml", "cgan_mnist.yaml", "cyclegan_mnist_strokes.yaml",
           "stargan_mnist_domains.yaml", "cam_mnist_canvas.yaml")


def share(recipe: str, work: Path) -> tuple[float, float]:
    """(epoch seconds, evaluation seconds) of the second epoch of ``recipe``."""
    from ganrun.cli import main as ganrun

    summary = work / f"{recipe}.json"
    code = ganrun([str(REPO / "recipes" / recipe), "train.epochs=2", "metrics.every=1",
                   "track.enabled=false", f"output.dir={work / 'runs'}",
                   "--summary-json", str(summary)])
    if code:
        sys.exit(f"eval_cost: {recipe} failed (exit {code})")
    metrics = json.loads(summary.read_text())["metrics"]
    return metrics["time/epoch_seconds"], metrics["time/eval_seconds"]


def main() -> None:
    recipes = sys.argv[1:] or list(OFFLINE)
    work = Path(tempfile.mkdtemp(prefix="ganrun-eval-cost-"))
    shares = {}
    for recipe in recipes:
        epoch, evaluation = share(recipe, work)
        shares[recipe] = evaluation / epoch
        print(f"{recipe}: epoch {epoch:.1f} s, evaluation {evaluation:.2f} s, "
              f"share {shares[recipe]:.3f}", file=sys.stderr)
    worst = max(shares, key=shares.get)
    print(" ".join(f"{r}={s:.3f}" for r, s in shares.items()))
    print(f"max_eval_share={shares[worst]:.3f} recipe={worst}")


if __name__ == "__main__":
    main()
