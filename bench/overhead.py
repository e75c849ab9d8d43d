"""ganrun's training step against a plain PyTorch loop of the same networks and batch.

Both run in this process, alternating epoch by epoch so that a noisy, shared machine slows
both alike. ganrun's epochs go through the engine with every built-in plugin on: progress
bar, MLflow tracking (a SQLite store in a temporary folder), the per-epoch grid, and
checkpoints. The plain loop is the method's step written directly, on the same data:

* ``--method dcgan`` (default recipe dcgan_mnist.yaml): the tutorial's two-tape step;
* ``--method cyclegan`` (default recipe cyclegan_mnist_strokes.yaml): the official
  ``optimize_parameters`` with a plain list as the image pool.

    .venv/bin/python bench/overhead.py [--method cyclegan] [--repeats 5] [--recipe R] [K=V ...]

Last line: ``overhead_ratio=<median over repeats of ganrun epoch / the plain epoch beside
it> peak_rss_mb=<the process's peak resident memory>``. Target ratio <= 1.05. For
``--method cyclegan`` the line also carries ``speedup_vs_plain=<median of the pairwise plain
epoch / ganrun epoch>`` and ``precision=<train.precision as run>``: the plain loop is the
official code, fp32 and NCHW, so this is ganrun against the official step (issue 14 asks
for >= 1.25 with ganrun in fp32 or bf16).
"""
from __future__ import annotations

import argparse
import copy
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    """The CPU's model name as /proc/cpuinfo gives it ("unknown" elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name")), "unknown")
    except OSError:
        return "unknown"


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


def dcgan_plain(trainer, recipe, dataset):
    """A closure running one plain tutorial epoch on copies of ``trainer``'s networks."""
    cfg = recipe.model
    G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
    opt_g = torch.optim.Adam(G.parameters(), cfg.lr_g, betas=tuple(cfg.betas), eps=cfg.adam_eps)
    opt_d = torch.optim.Adam(D.parameters(), cfg.lr_d, betas=tuple(cfg.betas), eps=cfg.adam_eps)
    rng = torch.Generator().manual_seed(0)
    return lambda: plain_epoch(G, D, opt_g, opt_d, dataset.images, recipe.train.batch_size,
                               cfg.noise_dim, rng)


def official_copy(net: torch.nn.Module) -> torch.nn.Module:
    """A copy of a ganrun CycleGAN network as the official code runs it: every weight NCHW
    (ganrun keeps its output convolution in channels_last) and torch's own reflection pads
    (ganrun's keep bf16 under autocast; the same values in fp32, without the guard's cost)."""
    net = copy.deepcopy(net).to(memory_format=torch.contiguous_format)
    for m in net.modules():
        if isinstance(m, torch.nn.ReflectionPad2d):
            m.__class__ = torch.nn.ReflectionPad2d
    return net


def cyclegan_plain(trainer, recipe, dataset):
    """A closure running one plain CycleGAN epoch (the official step) on network copies."""
    c = recipe.model
    gAB, gBA, dA, dB = (official_copy(n) for n in (trainer.genAB, trainer.genBA,
                                                     trainer.discA, trainer.discB))
    opt_g = torch.optim.Adam([*gAB.parameters(), *gBA.parameters()], c.lr, betas=tuple(c.betas))
    opt_d = torch.optim.Adam([*dA.parameters(), *dB.parameters()], c.lr, betas=tuple(c.betas))
    pools = {"A": [], "B": []}
    rng = torch.Generator().manual_seed(0)
    mse = torch.nn.functional.mse_loss
    l1 = torch.nn.functional.l1_loss

    def pooled(name, fakes):
        out, pool = [], pools[name]
        for im in fakes.detach().split(1):
            if len(pool) < c.pool_size:
                pool.append(im)
                out.append(im)
            elif random.random() > 0.5:
                i = random.randrange(c.pool_size)
                out.append(pool[i])
                pool[i] = im
            else:
                out.append(im)
        return torch.cat(out)

    def epoch():
        A, B = dataset.images_a, dataset.images_b
        bs = recipe.train.batch_size
        order = torch.randperm(max(len(A), len(B)), generator=rng)
        for i in range(0, len(order), bs):
            idx = order[i : i + bs]
            realA = A[idx % len(A)]
            realB = B[torch.randint(len(B), (len(idx),), generator=rng)]
            for p in [*dA.parameters(), *dB.parameters()]:
                p.requires_grad_(False)
            opt_g.zero_grad()
            fakeB, fakeA = gAB(realA), gBA(realB)
            pa, pb = dB(fakeB), dA(fakeA)
            loss_g = (mse(pa, torch.ones_like(pa)) + mse(pb, torch.ones_like(pb))
                      + c.lambda_A * l1(gBA(fakeB), realA) + c.lambda_B * l1(gAB(fakeA), realB)
                      + c.lambda_B * c.lambda_identity * l1(gAB(realB), realB)
                      + c.lambda_A * c.lambda_identity * l1(gBA(realA), realA))
            loss_g.backward()
            opt_g.step()
            for p in [*dA.parameters(), *dB.parameters()]:
                p.requires_grad_(True)
            opt_d.zero_grad()
            loss_d = 0.0
            for D, real, fake in ((dA, realA, pooled("A", fakeA)), (dB, realB, pooled("B", fakeB))):
                r, f = D(real), D(fake)
                loss_d = loss_d + 0.5 * (mse(r, torch.ones_like(r)) + mse(f, torch.zeros_like(f)))
            loss_d.backward()
            opt_d.step()
            loss_g.item(), loss_d.item()  # a plain loop reads its losses too

    return epoch


PLAIN = {"dcgan": (dcgan_plain, "dcgan_mnist.yaml"),
         "cyclegan": (cyclegan_plain, "cyclegan_mnist_strokes.yaml")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--method", choices=sorted(PLAIN), default="dcgan")
    ap.add_argument("--recipe", default=None, help="default: the method's recipe above")
    ap.add_argument("overrides", nargs="*", help="recipe KEY=VALUE overrides")
    args = ap.parse_args()

    from ganrun import engine
    from ganrun.precision import cpu_bf16_kind
    from ganrun.plugins import get_plugin_manager
    from ganrun.recipe import load_recipe
    from ganrun.registry import Registry

    make_plain, default_recipe = PLAIN[args.method]
    args.recipe = args.recipe or str(REPO / "recipes" / default_recipe)
    recipe_path = Path(args.recipe).resolve()
    work = Path(tempfile.mkdtemp(prefix="ganrun-overhead-"))
    os.chdir(work)
    pm = get_plugin_manager()
    registry = Registry.from_hooks(pm.hook)
    recipe = load_recipe(recipe_path, [*args.overrides, f"train.epochs={args.repeats + 1}"], registry=registry)
    run = engine.prepare(recipe, pm, registry)
    trainer = run.trainer
    plain = make_plain(trainer, recipe, run.loader.dataset)

    run.hook.ganrun_run_start(run=run)
    plain()  # warm-up
    engine.train_epoch(run, 1, trainer.device)
    plain_t, ganrun_t = [], []
    for epoch in range(2, args.repeats + 2):
        t = time.perf_counter()
        plain()
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
    print(f"cpu: {cpu_model()} (native bf16: {cpu_bf16_kind()}); ganrun precision "
          f"{trainer.precision.name}, the plain loop fp32")
    print(f"plain  epochs (s): {' '.join(f'{x:.2f}' for x in plain_t)}; "
          f"median {p:.2f} ({1000 * p / steps:.0f} ms/step)")
    print(f"ganrun epochs (s): {' '.join(f'{x:.2f}' for x in ganrun_t)}; "
          f"median {g:.2f} ({1000 * g / steps:.0f} ms/step)")
    ratios = [b / a for a, b in zip(plain_t, ganrun_t)]
    print(f"pairwise ratios: {' '.join(f'{r:.3f}' for r in ratios)}; "
          f"ratio of medians {g / p:.3f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    if torch.cuda.is_available():
        print(f"cuda peak allocated: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")
    speedup = (f" speedup_vs_plain={statistics.median(a / b for a, b in zip(plain_t, ganrun_t)):.3f}"
               f" precision={trainer.precision.name}" if args.method == "cyclegan" else "")
    print(f"overhead_ratio={statistics.median(ratios):.3f}{speedup} peak_rss_mb={peak_mb:.0f}")


if __name__ == "__main__":
    main()
