"""Runs that fail on purpose, and healthy ones: which health alarms fire for each, per method.

    .venv/bin/python bench/health_suite.py [--methods dcgan,cyclegan,stargan,wgan_gp]
                                           [--only NAME ...] [--threads 1]

Each case is a recipe trained for a few epochs through the CLI with one thing broken (or
nothing, for the healthy runs that count false alarms):

* dcgan, the quick start for 4 epochs, evaluated every epoch: a generator that outputs one
  image whatever the noise; the discriminator's learning rate 100x; the generator's 0; a NaN
  at step 600; training data of two digits only. Healthy: three seeds.
* cyclegan, recipes/cyclegan_mnist_strokes.yaml for 3 epochs on 1,000 digits a domain (125
  steps an epoch), evaluated every epoch: generators that output one image whatever the
  input; an identity generator (lambda_identity 100 and the generators' adversarial terms
  x 1e-3: cycle and identity terms alone, which the input returned unchanged satisfies);
  the discriminators' learning rate 0; a NaN at step 150. Healthy: two seeds.
* stargan, recipes/stargan_mnist_domains.yaml (250 iterations an epoch), evaluated every
  epoch: no gradient penalty (lambda_gp 0, 1 epoch); the critic's learning rate 50x (d_lr
  1e-2, 1 epoch); no domain classification (lambda_cls 0, 2 epochs). Healthy: one seed, 3
  epochs (its third evaluation is the first the translation monitors judge).
* wgan_gp, the example plugin's recipe (examples/ganrun-wgan) for 15 epochs (945 critic
  iterations), not evaluated: it is here for the critic's monitors (at 15 of its 40 epochs
  its samples are not digits yet, and the sample monitors rightly say so). Healthy: one
  seed.

Every run's step values and evaluations are recorded (bench/suite/record_steps.py) in
bench/out/health_suite/<name>.jsonl: the measurements behind the thresholds of
ganrun.health.config. Prints a table of the alarms per run and, last,
``detected=<k>/<n> false_alarms=<m>/<h>`` over all the methods run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RECIPES = REPO / "recipes"
WGAN = REPO / "examples" / "ganrun-wgan"


@dataclass
class Case:
    name: str
    method: str
    recipe: Path
    overrides: list[str]
    healthy: bool = False
    plugins: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)  # extra PYTHONPATH entries


def cases() -> list[Case]:
    dcgan = (RECIPES / "quickstart.yaml", ["train.epochs=4", "metrics.every=1"])
    cyclegan = (RECIPES / "cyclegan_mnist_strokes.yaml",
                ["train.epochs=3", "metrics.every=1", "data.limit=1000"])
    stargan = (RECIPES / "stargan_mnist_domains.yaml", ["train.epochs=2", "metrics.every=1"])
    wgan = (WGAN / "recipes" / "wgan_gp_mnist.yaml", ["train.epochs=15", "metrics.every=0"])
    wgan_kw = {"plugins": ["suite.wgan_example"], "path": [str(WGAN)]}

    def case(name, method, base, extra=(), **kw):
        return Case(name, method, base[0], [*base[1], *extra], **kw)

    return [
        case("one_image", "dcgan", dcgan, ["train.seed=0"], plugins=["suite.one_image"]),
        case("d_lr_100x", "dcgan", dcgan, ["model.lr_d=2.0e-2"]),
        case("g_lr_0", "dcgan", dcgan, ["model.lr_g=0.0"]),
        case("nan_mid_run", "dcgan", dcgan, plugins=["suite.nan_at_step"]),
        case("two_classes", "dcgan", dcgan, ["data.classes=[3,8]"]),
        *[case(f"healthy_seed{s}", "dcgan", dcgan, [f"train.seed={s}"], healthy=True)
          for s in (0, 1, 2)],
        case("cyc_constant", "cyclegan", cyclegan, plugins=["suite.constant_translation"]),
        case("cyc_identity", "cyclegan", cyclegan, ["model.lambda_identity=100"],
             plugins=["suite.weak_adversarial"]),
        case("cyc_d_lr_0", "cyclegan", cyclegan, ["model.lr_d=0.0"]),
        case("cyc_nan", "cyclegan", cyclegan, plugins=["suite.nan_at_step"],
             env={"GANRUN_NAN_STEP": "150"}),
        *[case(f"cyc_healthy_seed{s}", "cyclegan", cyclegan, [f"train.seed={s}"], healthy=True)
          for s in (0, 1)],
        case("sg_no_gp", "stargan", stargan, ["train.epochs=1", "model.lambda_gp=0.0"]),
        case("sg_d_lr_50x", "stargan", stargan, ["train.epochs=1", "model.d_lr=1.0e-2"]),
        case("sg_no_cls", "stargan", stargan, ["model.lambda_cls=0.0"]),
        case("sg_healthy_seed0", "stargan", stargan, ["train.epochs=3", "train.seed=0"],
             healthy=True),
        case("wgan_healthy_seed0", "wgan_gp", wgan, ["train.seed=0"], healthy=True, **wgan_kw),
    ]


def run_one(c: Case, threads: int, out: Path) -> dict:
    record = out / f"{c.name}.jsonl"
    record.unlink(missing_ok=True)
    env = {**os.environ, **c.env, "OMP_NUM_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join([str(REPO / "bench"), *c.path]),
           "GANRUN_PLUGINS": ",".join(["suite.record_steps", *c.plugins]),
           "GANRUN_RECORD": str(record)}
    summary = out / f"{c.name}.json"
    cmd = [sys.executable, "-m", "ganrun.cli", str(c.recipe), *c.overrides,
           f"train.threads={threads}", f"track.run_name={c.name}",
           f"output.dir={out / 'runs'}", "--summary-json", str(summary)]
    started = time.time()
    done = subprocess.run(cmd, cwd=out, env=env, capture_output=True, text=True)
    alarms = [line for line in done.stderr.splitlines() if line.startswith("health: ")]
    if done.returncode not in (0, 3):
        print(done.stderr[-2000:], file=sys.stderr)
    info = json.loads(summary.read_text()) if summary.exists() else {}
    return {"exit": done.returncode, "alarms": alarms, "seconds": time.time() - started,
            "metrics": info.get("metrics", {}), "output_dir": info.get("output_dir", "")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default="dcgan,cyclegan,stargan,wgan_gp")
    ap.add_argument("--only", nargs="*", default=None, help="case names")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    methods = args.methods.split(",")
    chosen = [c for c in cases() if c.method in methods and (not args.only or c.name in args.only)]
    out = REPO / "bench" / "out" / "health_suite"
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for c in chosen:
        results[c.name] = r = run_one(c, args.threads, out)
        print(f"{c.name:20s} {c.method:8s} {'healthy' if c.healthy else 'broken':7s} "
              f"exit {r['exit']}  {r['seconds']:4.0f} s  alarms {len(r['alarms'])}  "
              f"grid {r['output_dir']}/images", flush=True)
        for line in r["alarms"]:
            print(f"    {line}", flush=True)
    broken = [c.name for c in chosen if not c.healthy]
    healthy = [c.name for c in chosen if c.healthy]
    detected = sum(bool(results[n]["alarms"]) for n in broken)
    false_alarms = sum(bool(results[n]["alarms"]) for n in healthy)
    print(f"detected={detected}/{len(broken)} false_alarms={false_alarms}/{len(healthy)}")


if __name__ == "__main__":
    main()
