"""Train the embedded CycleGAN (thin -> thick strokes), then measure its translations.

    .venv/bin/python bench/quality_cyclegan.py [KEY=VALUE ...]

Trains ``recipes/cyclegan_mnist_strokes.yaml`` (overrides as for ``ganrun``) in
``bench/out/``, reloads the exported genAB from its file, translates every test image of
domain A (500 thin digits never trained on), and asks two classifiers the project trained:
``lenet_mnist`` (is the digit's class kept?) and ``strokes_mnist`` (are the strokes now
thick, domain B?). The untranslated test images are measured too, as the baseline a
do-nothing generator would get. Writes a grid of real A | genAB(A) beside the generator.
Last line: ``class_kept=<a> domain_b=<b> seconds=<training time>``. Targets: both >= 0.85,
training within 15 minutes on 2 CPU cores.
"""
from __future__ import annotations

import sys

import torch

from trained import train


def main() -> None:
    from ganrun.images import save_grid
    from ganrun_plugins.cyclegan.evaluation import translate_batches

    run = train("cyclegan_mnist_strokes.yaml", sys.argv[1:])
    registry = run.registry
    genAB, recipe = run.load("genAB")
    test = registry.dataset(recipe.data.name).load(recipe.data, "test")
    realA, labels = test.images_a, test.labels_a
    fakeB = translate_batches(genAB, realA)
    digits = registry.evaluator("lenet_mnist").load()
    strokes = registry.evaluator("strokes_mnist").load()
    with torch.no_grad():
        def share(evaluator, images, target):
            return (evaluator.logits(images).argmax(1) == target).float().mean().item()

        class_kept, domain_b = share(digits, fakeB, labels), share(strokes, fakeB, 1)
        base_class, base_domain = share(digits, realA, labels), share(strokes, realA, 1)
    grid = run.output_dir / "test_AtoB.png"
    save_grid(grid, torch.stack([realA[:16], fakeB[:16]], 1).flatten(0, 1), nrow=8)
    print(f"{len(realA)} test images of A; untranslated: class {base_class:.3f}, "
          f"judged thick {base_domain:.3f}")
    print(f"grid: {grid}")
    print(f"class_kept={class_kept:.3f} domain_b={domain_b:.3f} seconds={run.seconds:.0f}")


if __name__ == "__main__":
    main()
