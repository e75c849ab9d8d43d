"""Train the embedded StarGAN (two datasets through the mask vector), then measure it.

    .venv/bin/python bench/quality_stargan.py [KEY=VALUE ...]

Trains ``recipes/stargan_mnist_domains.yaml`` (overrides as for ``ganrun``) in ``bench/out/``,
reloads the exported G from its file, and translates every test image of both datasets
(1,000 digits each, never trained on) to every target: each attribute (thick, slanted,
red, green, blue) and each style (plain, striped, shadowed, framed). The project's
evaluators judge each translation, as the run's evaluation does
(:class:`ganrun_plugins.stargan.evaluation.DomainMetrics`): ``attributes_mnist`` /
``styles_mnist`` whether the target was reached, ``lenet_mnist32`` whether the digit was
kept. Writes a grid (input, then one column per target) of test digits beside the generator.
Last line: ``attr_acc=<a> class_kept=<b> generator=<path>``. Targets: both >= 0.85,
training within 15 minutes on 2 CPU cores.
"""
from __future__ import annotations

import sys

import torch

from trained import train


def main() -> None:
    from ganrun.images import save_grid
    from ganrun_plugins.stargan.evaluation import DomainMetrics, first_test_images
    from ganrun_plugins.stargan.method import label_layout

    run = train("stargan_mnist_domains.yaml", sys.argv[1:])
    registry = run.registry
    G, recipe = run.load()
    layout = label_layout(recipe)
    test = registry.dataset(recipe.data.name).load(recipe.data, "test")
    tests = first_test_images(test, len(test))
    judges = [registry.evaluator(name).load() for name in recipe.model.attribute_evaluators]
    metrics = DomainMetrics(tests, layout, judges,
                            registry.evaluator(recipe.model.class_evaluator).load())(G)
    untouched = registry.evaluator(recipe.model.class_evaluator).load()
    with torch.no_grad():
        base = torch.cat([untouched.logits(t.images).argmax(1) == t.digits for t in tests])
    rows = []
    with torch.no_grad():
        for k, t in enumerate(tests):
            x, label = t.images[:6], t.labels[:6]
            columns = []
            for m in range(len(layout.sets)):
                own = label if m == k else layout.blank(m, len(x))
                columns += [G(x, layout.encode(m, c)) for c in layout.column_targets(m, own)]
            rows.append(torch.stack([x, *columns], 1).flatten(0, 1))
    grid = run.output_dir / "test_translations.png"
    save_grid(grid, torch.cat(rows), nrow=1 + sum(len(s) for s in layout.sets))
    print(f"{sum(len(t.images) for t in tests)} test digits; untranslated, lenet reads "
          f"{base.float().mean().item():.3f} of them right")
    print(" ".join(f"{k}={v:.3f}" for k, v in metrics.items()))
    print(f"trained in {run.seconds:.0f} s; grid: {grid}")
    print(f"attr_acc={metrics['eval/attr_acc']:.3f} class_kept={metrics['eval/class_kept']:.3f} "
          f"generator={run.summary['generator']}")


if __name__ == "__main__":
    main()
