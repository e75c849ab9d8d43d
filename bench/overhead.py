"""ganrun's training step against a plain PyTorch loop of the same networks and batch.

Both run in this process, alternating epoch by epoch so that a noisy, shared machine slows
both alike. ganrun's epochs go through the engine with every built-in plugin on: progress
bar, MLflow tracking (a SQLite store in a temporary folder), the per-epoch grid, and
checkpoints. The plain loop is the tutorial's step written directly, on the same batches.

    .venv/bin/python bench/overhead.py [--repeats 5] [--recipe recipes/dcgan_mnist.yaml]

Last line: ``overhead_ratio=<median over repeats of ganrun epoch / the plain epoch beside
it>``. Target <= 1.05.
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent


def plain_epoch(G, D, opt_g, opt_d, images, batch_size, noise_dim, rng):
    """The tutorial's loop, written plainly: shuffle, slice, one two-tape step per batch."""
    order = torch.randperm(len(images), generator=rng)
    for i in range(0, len(images), batch_size):
        real = images[order[i : i + batch_size]]
        fake = G(torch.randn(batch_size, noise_dim))
        real_out, fake_out = D(real), D(fake)
        g_loss = F.binary_cross_entropy_with_logits(fake_out, torch.ones_like(fake_out))
        d_loss = (F.binary_cross_entropy_with_logits(real_out, torch.ones_like(real_out))
                  + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out)))
        gg = torch.autograd.grad(g_loss, list(G.parameters()), retain_graph=True)
        dg = torch.autograd.grad(d_loss, list(D.parameters()))
        for p, g in zip(G.parameters(), gg):
            p.grad = g
        for p, g in zip(D.parameters(), dg):
            p.grad = g
        opt_g.step()
        opt_d.step()
        float(g_loss), float(d_loss)  # a plain loop reads its losses too


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--recipe", default=str(REPO / "recipes" / "dcgan_mnist.yaml"))
    ap.add_argument("overrides", nargs="*", help="recipe KEY=VALUE overrides")
    args = ap.parse_args()

    from ganrun import engine
    from ganrun.plugins import get_plugin_manager
    from ganrun.recipe import load_recipe
    from ganrun.registry import Registry

    recipe_path = Path(args.recipe).resolve()
    work = Path(tempfile.mkdtemp(prefix="ganrun-overhead-"))
    os.chdir(work)
    pm = get_plugin_manager()
    registry = Registry.from_hooks(pm.hook)
    recipe = load_recipe(recipe_path, [*args.overrides, f"train.epochs={args.repeats + 1}"], registry=registry)
    run = engine.prepare(recipe, pm, registry)
    trainer = run.trainer
    cfg = recipe.model
    G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
    opt_g = torch.optim.Adam(G.parameters(), cfg.lr_g, betas=tuple(cfg.betas), eps=cfg.adam_eps)
    opt_d = torch.optim.Adam(D.parameters(), cfg.lr_d, betas=tuple(cfg.betas), eps=cfg.adam_eps)
    images = run.loader.dataset.images
    rng = torch.Generator().manual_seed(0)

    run.hook.ganrun_run_start(run=run)
    plain_epoch(G, D, opt_g, opt_d, images, recipe.train.batch_size, cfg.noise_dim, rng)  # warm-up
    engine.train_epoch(run, 1, trainer.device)
    plain_t, ganrun_t = [], []
    for epoch in range(2, args.repeats + 2):
        t = time.perf_counter()
        plain_epoch(G, D, opt_g, opt_d, images, recipe.train.batch_size, cfg.noise_dim, rng)
        plain_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        engine.train_epoch(run, epoch, trainer.device)
        ganrun_t.append(time.perf_counter() - t)
    run.status = "FINISHED"
    run.hook.ganrun_run_end(run=run, status="FINISHED", error=None)

    steps = run.steps_per_epoch
    p, g = statistics.median(plain_t), statistics.median(ganrun_t)
    print(f"recipe {Path(args.recipe).name}: batch {recipe.train.batch_size}, {steps} steps/epoch, "
          f"threads {torch.get_num_threads()}, {args.repeats} repeats", file=sys.stderr)
    print(f"plain  epochs (s): {' '.join(f'{x:.2f}' for x in plain_t)}; "
          f"median {p:.2f} ({1000 * p / steps:.0f} ms/step)")
    print(f"ganrun epochs (s): {' '.join(f'{x:.2f}' for x in ganrun_t)}; "
          f"median {g:.2f} ({1000 * g / steps:.0f} ms/step)")
    ratios = [b / a for a, b in zip(plain_t, ganrun_t)]
    print(f"pairwise ratios: {' '.join(f'{r:.3f}' for r in ratios)}; "
          f"ratio of medians {g / p:.3f}")
    print(f"overhead_ratio={statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
