"""StarGAN or CycleGAN for k domains? Both trained on the same domains, same wall-clock budget.

    .venv/bin/python bench/stargan_vs_cyclegan.py [--minutes 6] [--test 250]

The k = 4 domains are the styles of the embedded ``mnist_styles`` (plain, striped,
shadowed, framed; 32x32 RGB digits). StarGAN trains one G and one D on all four
(``recipes/stargan_mnist_domains.yaml``'s networks, ``data.name=mnist_styles``) for
``--minutes``; CycleGAN needs a model per pair, k(k-1)/2 = 6, each trained on its two styles
(``recipes/cyclegan_mnist_strokes.yaml``'s networks in RGB) for ``--minutes / 6``, so the
total budgets match. Both at a constant learning rate: the budget, not a schedule, ends
them (``bench/style_pairs.py``). Then ``--test`` test digits of each style are translated
to each other style: ``styles_mnist`` says whether the target style was reached
(``attr_acc``), ``lenet_mnist32`` whether the digit was kept (``class_kept``).

Last line: ``stargan_params=.. cyclegan_params=.. stargan_attr_acc=.. cyclegan_attr_acc=..
stargan_class_kept=.. cyclegan_class_kept=..`` (parameters for all k domains, G and D).
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

import torch

from trained import REPO, train

HERE = Path(__file__).resolve().parent


def count(nets) -> int:
    return sum(p.numel() for net in nets for p in net.parameters())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=6.0, help="training budget of each method")
    p.add_argument("--test", type=int, default=250, help="test digits of each style")
    args = p.parse_args()
    sys.path.insert(0, str(HERE))
    os.environ["GANRUN_PLUGINS"] = "style_pairs"
    from ganrun.data.mnist_styles import STYLES, MnistStylesConfig, load_mnist_styles
    from ganrun.sampling import load_generator

    budget = args.minutes * 60
    os.environ["GANRUN_BUDGET_S"] = str(budget)
    star = train("stargan_mnist_domains.yaml", [
        "data.name=mnist_styles", "model.attribute_evaluators=[styles_mnist]",
        "model.num_iters_decay=0", "train.epochs=1000", "metrics.every=0", "track.enabled=false"])
    G, star_recipe = star.load()
    star_params = count([G, star.pm.hook.ganrun_make_discriminator(recipe=star_recipe, name="D")])

    os.environ["GANRUN_BUDGET_S"] = str(budget / (len(STYLES) * (len(STYLES) - 1) // 2))
    pairs, cycle_params = {}, 0
    for a, b in itertools.combinations(STYLES, 2):
        run = train("cyclegan_mnist_strokes.yaml", [
            "data.name=mnist_style_pair", f"data.a={a}", f"data.b={b}", "model.channels=3",
            "model.class_evaluator=\"\"", "model.domain_evaluator=\"\"", "model.n_epochs=1000",
            "model.n_epochs_decay=0", "train.epochs=1000", "metrics.every=0",
            "track.enabled=false", f"name=cyclegan_{a}_{b}"])
        folder = Path(run.summary["generator"])
        nets = {n: load_generator(folder / f"{n}.safetensors", run.pm, run.registry)[0]
                for n in ("genAB", "genBA")}
        pairs[a, b], pairs[b, a] = nets["genAB"], nets["genBA"]
        recipe = load_generator(folder / "genAB.safetensors", run.pm, run.registry)[1]
        discs = [run.pm.hook.ganrun_make_discriminator(recipe=recipe, name=n)
                 for n in ("discA", "discB")]
        cycle_params += count([*nets.values(), *discs])

    registry = star.registry
    styles_net = registry.evaluator("styles_mnist").load()
    lenet = registry.evaluator("lenet_mnist32").load()
    test = load_mnist_styles(MnistStylesConfig(), "test")
    score = {"stargan": ([], []), "cyclegan": ([], [])}
    G.eval()
    with torch.no_grad():
        for i, source in enumerate(STYLES):
            mine = (test.labels == i).nonzero().flatten()[: args.test]
            x, digits = test.images[mine], test.digits[mine]
            for j, target in enumerate(STYLES):
                if j == i:
                    continue
                c = torch.nn.functional.one_hot(torch.full((len(x),), j), len(STYLES)).float()
                for name, fake in (("stargan", G(x, c)), ("cyclegan", pairs[source, target].eval()(x))):
                    score[name][0].append(styles_net.logits(fake).argmax(1) == j)
                    score[name][1].append(lenet.logits(fake).argmax(1) == digits)
    result = {name: [torch.cat(v).float().mean().item() for v in values]
              for name, values in score.items()}
    print(f"budget {args.minutes:.1f} min each; StarGAN trained {star.seconds:.0f} s (with set-up)")
    print(f"stargan_params={star_params} cyclegan_params={cycle_params} "
          f"stargan_attr_acc={result['stargan'][0]:.3f} cyclegan_attr_acc={result['cyclegan'][0]:.3f} "
          f"stargan_class_kept={result['stargan'][1]:.3f} "
          f"cyclegan_class_kept={result['cyclegan'][1]:.3f}")


if __name__ == "__main__":
    main()
