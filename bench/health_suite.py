"""Runs that fail on purpose, and healthy ones: which health alarms fire for each.

    .venv/bin/python bench/health_suite.py [--epochs 4]

Each run is the quick start (recipes/quickstart.yaml) for a few epochs, evaluated every
epoch, with one thing broken: a generator that outputs one image whatever the noise; the
discriminator's learning rate 100x; the generator's learning rate 0; a NaN injected at step
600; training data restricted to two digits (so the generator covers two classes). The
healthy runs are the quick start with three seeds. Prints a table of the alarms per run,
the grids to look at, and on its last line ``detected=<k>/<n> false_alarms=<m>/<h>``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FAILURES = {
    "one_image": (["train.seed=0"], "suite.one_image"),
    "d_lr_100x": (["model.lr_d=2.0e-2"], None),
    "g_lr_0": (["model.lr_g=0.0"], None),
    "nan_mid_run": ([], "suite.nan_at_step"),
    "two_classes": (["data.classes=[3,8]"], None),
}
HEALTHY = {f"healthy_seed{s}": ([f"train.seed={s}"], None) for s in (0, 1, 2)}


def run_one(name: str, overrides: list[str], plugin: str | None, epochs: int, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO / "bench")}
    if plugin:
        env["GANRUN_PLUGINS"] = plugin
    summary = out / f"{name}.json"
    cmd = [sys.executable, "-m", "ganrun.cli", str(REPO / "recipes" / "quickstart.yaml"),
           f"train.epochs={epochs}", "metrics.every=1", f"track.run_name={name}",
           f"output.dir={out / 'runs'}", *overrides, "--summary-json", str(summary)]
    started = time.time()
    done = subprocess.run(cmd, cwd=out, env=env, capture_output=True, text=True)
    alarms = [line for line in done.stderr.splitlines() if line.startswith("health: ")]
    if done.returncode not in (0, 3):
        print(done.stderr[-2000:], file=sys.stderr)
    info = json.loads(summary.read_text()) if summary.exists() else {}
    return {"name": name, "exit": done.returncode, "alarms": alarms, "seconds": time.time() - started,
            "metrics": info.get("metrics", {}), "output_dir": info.get("output_dir", "")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    args = ap.parse_args()
    out = REPO / "bench" / "out" / "health_suite"
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, (overrides, plugin) in {**FAILURES, **HEALTHY}.items():
        results[name] = r = run_one(name, overrides, plugin, args.epochs, out)
        m = r["metrics"]
        print(f"{name:16s} exit {r['exit']}  {r['seconds']:4.0f} s  alarms {len(r['alarms'])}  "
              f"fid {m.get('eval/fid_lenet', float('nan')):7.1f}  modes {m.get('eval/modes', -1):3.0f}  "
              f"grid {r['output_dir']}/images", flush=True)
        for line in r["alarms"]:
            print(f"    {line}", flush=True)
    detected = sum(bool(results[n]["alarms"]) for n in FAILURES)
    false_alarms = sum(bool(results[n]["alarms"]) for n in HEALTHY)
    print(f"detected={detected}/{len(FAILURES)} false_alarms={false_alarms}/{len(HEALTHY)}")


if __name__ == "__main__":
    main()
