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

import json
import os
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    from ganrun.cli import main as ganrun
    from ganrun.images import save_grid
    from ganrun.plugins import get_plugin_manager
    from ganrun.registry import Registry
    from ganrun.sampling import load_generator
    from ganrun_plugins.cyclegan.evaluation import translate_batches

    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    os.chdir(out)
    started = time.time()
    code = ganrun([str(REPO / "recipes" / "cyclegan_mnist_strokes.yaml"), *sys.argv[1:],
                   "--summary-json", "cyclegan_summary.json"])
    if code:
        sys.exit(code)
    seconds = time.time() - started
    summary = json.loads(Path("cyclegan_summary.json").read_text())
    pm = get_plugin_manager()
    registry = Registry.from_hooks(pm.hook)
    genAB, recipe = load_generator(Path(summary["generator"]) / "genAB.safetensors", pm, registry)
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
    grid = Path(summary["output_dir"]) / "test_AtoB.png"
    save_grid(grid, torch.stack([realA[:16], fakeB[:16]], 1).flatten(0, 1), nrow=8)
    print(f"{len(realA)} test images of A; untranslated: class {base_class:.3f}, "
          f"judged thick {base_domain:.3f}")
    print(f"grid: {grid}")
    print(f"class_kept={class_kept:.3f} domain_b={domain_b:.3f} seconds={seconds:.0f}")


if __name__ == "__main__":
    main()
