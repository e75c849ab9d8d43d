"""Train the conditional GAN, then ask the project's evaluator which digit each sample is.

    .venv/bin/python bench/quality_cgan.py [KEY=VALUE ...]

Trains ``recipes/cgan_mnist.yaml`` (overrides as for ``ganrun``) in ``bench/out/``, draws
100 samples of every digit (seed 0) from the saved generator, classifies them with the
``lenet_mnist`` evaluator, and writes the 10-row grid beside the generator. Last line:
``cond_acc=<share classified as the digit asked for> generator=<path>``. Target >= 0.90.
"""
from __future__ import annotations

import sys

import torch

from trained import train

PER_CLASS = 100


def main() -> None:
    from ganrun.sampling import draw, save_samples

    run = train("cgan_mnist.yaml", sys.argv[1:])
    pm, registry = run.pm, run.registry
    generator, recipe = run.load()
    samples = draw(pm.hook, recipe, generator, PER_CLASS, 0, None)
    evaluator = registry.evaluator("lenet_mnist").load()
    with torch.no_grad():
        predicted = evaluator.logits(samples.images).argmax(dim=1)
    hits = predicted == samples.labels
    per_class = [hits[samples.labels == c].float().mean().item() for c in range(10)]
    grid = run.output_dir / "ten_rows.png"
    rows = draw(pm.hook, recipe, generator, 10, 0, None)
    save_samples(grid, rows)
    print(f"trained in {run.seconds:.0f} s; per-class accuracy: "
          + " ".join(f"{c}:{a:.2f}" for c, a in enumerate(per_class)))
    print(f"grid: {grid}")
    print(f"cond_acc={hits.float().mean().item():.3f} generator={run.summary['generator']}")


if __name__ == "__main__":
    main()
