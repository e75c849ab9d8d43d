"""Retake docs/img/mlflow_compare.png: MLflow's compare view of two ganrun runs.

    python docs/screenshots/take.py                      # trains two short quickstart runs
    python docs/screenshots/take.py --runs ID ID --uri sqlite:///.../mlruns/mlflow.db

Trains two short runs of recipes/quickstart.yaml that differ in G's learning rate (in a
temporary folder, about two minutes on a CPU) unless runs are given, serves their store with a
real ``mlflow ui`` on 127.0.0.1, opens the experiment's chart view of the two runs in
headless Chromium (Debian's ``chromium``), in MLflow's model-training view, closes the
assistant panel, shows the ``eval/`` charts, waits for them to be drawn, and writes the
picture (plotly's hover tool bars hidden: headless Chromium shows them over the axes). The UI server and the browser are stopped however it ends. ``make screenshots``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(Path(__file__).parent)]

from cdp import Chromium  # noqa: E402
from tests.mlflow_server import MlflowServer  # noqa: E402

OUT = REPO / "docs" / "img" / "mlflow_compare.png"
# 5 of the quick start's 40 epochs (1,250 updates: digits begin to show), measured each epoch
SHORT = ["train.epochs=5", "metrics.every=1", "metrics.samples=500",
         "train.checkpoint_every=0", "track.register_model=false"]
RATES = ["model.lr_g=4e-4", "model.lr_g=1e-4"]
WIDTH, HEIGHT = 1600, 1000
CHARTS = "document.querySelectorAll('.js-plotly-plot').length"
# the assistant panel's own Close button (the panel opens by default in MLflow 3.17)
CLOSE_ASSISTANT = """(() => {
  for (const close of document.querySelectorAll('button[aria-label="Close"]')) {
    let box = close;
    for (let up = 0; up < 6 && box; up++, box = box.parentElement) {
      if (box.innerText && box.innerText.includes('MLflow Assistant')) {
        close.click();
        return true;
      }
    }
  }
  return false;
})()"""
ASSISTANT_GONE = ("![...document.querySelectorAll('textarea, input')]"
                  ".some(e => (e.placeholder || '').startsWith('Ask a question'))")
# plotly's tool bar, which headless Chromium shows over each chart's axis as if hovered
HIDE_TOOLBARS = """(() => {
  const style = document.createElement('style');
  style.textContent = '.modebar-container { display: none !important; }';
  document.head.appendChild(style);
  return true;
})()"""
SEARCH_CHARTS = "document.querySelector('input[placeholder=\"Search metric charts\"]')"
# a chart card shows a spinner until it is drawn (those below the fold stay so: not drawn yet)
SPINNING_IN_VIEW = """[...document.querySelectorAll('[class*=spin-spinning]')].some(e => {
  const r = e.getBoundingClientRect();
  return r.bottom > 0 && r.top < innerHeight && r.width > 0;
})"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_two(work: Path) -> tuple[str, list[str]]:
    """Two short quickstart runs in ``work``; (their store's uri, their run ids)."""
    ids = []
    for rate in RATES:
        summary = work / "summary.json"
        done = subprocess.run([sys.executable, "-m", "ganrun",
                               str(REPO / "recipes" / "quickstart.yaml"), *SHORT, rate,
                               "--summary-json", str(summary)], cwd=work, text=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if done.returncode:
            raise RuntimeError(f"training failed ({done.returncode}): {done.stderr[-2000:]}")
        ids.append(json.loads(summary.read_text())["run_id"])
    return f"sqlite:///{work / 'mlruns' / 'mlflow.db'}", ids


def compare_address(ui: str, experiment_id: str, run_ids: list[str]) -> str:
    """The experiment's chart view showing only ``run_ids``, in the model-training view."""
    from ganrun.mlflow_store import TRAINING_VIEW

    only = "attributes.run_id IN ({})".format(", ".join(f"'{r}'" for r in run_ids))
    return (f"{ui}/#/experiments/{experiment_id}/runs?{TRAINING_VIEW}&compareRunsMode=CHART"
            f"&searchFilter={quote(only)}")


def shoot(address: str, out: Path) -> None:
    with Chromium(free_port(), WIDTH, HEIGHT) as browser:
        browser.open(address)
        browser.wait_for(f"{CHARTS} >= 2", 120, "the run charts")
        browser.wait_for(CLOSE_ASSISTANT, 30, "the assistant panel's Close button")
        browser.wait_for(ASSISTANT_GONE, 30, "the assistant panel closed")
        browser.js(HIDE_TOOLBARS)
        browser.wait_for(f"{SEARCH_CHARTS} && ({SEARCH_CHARTS}.focus(), true)", 30,
                         "the chart search box")
        browser.type("eval/")
        time.sleep(2)  # the charts re-render for the filter
        browser.wait_for(f"{CHARTS} >= 2 && !({SPINNING_IN_VIEW})", 60, "the eval/ charts, drawn")
        browser.js("document.activeElement.blur(), true")
        view = browser.js("location.href")
        if "workflowType=machine_learning" not in view:
            raise RuntimeError(f"the UI left the model-training view: {view}")
        time.sleep(1)
        browser.screenshot(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs=2, metavar="RUN", help="two run ids (default: train two)")
    p.add_argument("--uri", help="the store holding --runs (a sqlite:/// file)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    if shutil.which("chromium") is None:
        p.error("no chromium on PATH (Debian: sudo apt-get install -y chromium)")
    if bool(args.runs) != bool(args.uri):
        p.error("--runs and --uri go together")
    work = Path(tempfile.mkdtemp(prefix="ganrun-shot-"))
    try:
        uri, ids = (args.uri, args.runs) if args.runs else train_two(work)
        from mlflow.tracking import MlflowClient

        experiment = MlflowClient(uri).get_run(ids[0]).info.experiment_id
        with MlflowServer(work / "ui", free_port(), backend=uri) as ui:
            shoot(compare_address(ui.uri, experiment, ids), args.out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
