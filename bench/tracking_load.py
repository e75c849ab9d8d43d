"""A team's tracking server under load, stopped mid-run: does every run's record arrive?

    pip install -e .[team]            # psycopg2-binary, MLflow's PostgreSQL driver
    apt-get install -y postgresql     # initdb and pg_ctl (Debian: /usr/lib/postgresql/*/bin)
    .venv/bin/python bench/tracking_load.py [--runs 8] [--epochs 70] [--outage 20] [--keep]

Starts a throwaway PostgreSQL cluster in a temp folder (127.0.0.1, a free port; as root it
runs as the ``postgres`` user, which refuses root) and an ``mlflow server`` on it
(``--backend-store-uri postgresql+psycopg2://...``, artifacts served from the temp folder, 127.0.0.1,
a free port). Trains ``--runs`` tiny DCGAN runs at once against it (one ``ganrun`` process
each, ``train.threads=1``, 512 digits in batches of 64: 8 steps an epoch, every step's
losses logged, a checkpoint each epoch, the model registered), and once every run has
finished its first epoch stops the server for ``--outage`` seconds, then starts it again.

Each run also keeps its own record of what it logged: a small plugin loaded with
``GANRUN_PLUGINS`` writes every (key, step) the tracker was given to ``RUN_DIR/logged.json``.
Then, through the server's API, checks each run against it: the status FINISHED, every
param of its ``recipe.yaml``, and every recorded metric point present, once. A run that
still held records in ``RUN_DIR/tracking/`` when it ended is synced with ``ganrun sync``
first, and said so. Last line:

    runs_complete=<k>/<n> metric_points_lost=<m> seconds=<s>

The script installs nothing: without PostgreSQL's binaries or psycopg2 it says how to get
them and exits 0 with a skip line. PostgreSQL and the server are stopped however it ends.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RECIPE = """\
extends: {base}
model:
  g_widths: [16, 8, 4]
  d_widths: [4, 8]
data:
  limit: 512
train:
  epochs: {epochs}
  batch_size: 64
  checkpoint_every: 1
  threads: 1
  log_every: 1
metrics:
  every: 0
track:
  experiment: tracking-load
"""
# Loaded into each run (GANRUN_PLUGINS): its own record of every (key, step) the tracker
# was given, written after all the epoch's plugins (wrappers run around them all).
RECORDER = """\
import json
from ganrun import hookimpl

_logged = {}

@hookimpl(wrapper=True)
def ganrun_step_end(run, losses):
    result = yield
    for k in losses:
        _logged.setdefault(f"loss/{k}", []).append(run.step)
    return result

@hookimpl(wrapper=True)
def ganrun_epoch_end(run, report):
    result = yield
    for k in report.metrics:
        _logged.setdefault(k, []).append(report.epoch)
    (run.output_dir / "logged.json").write_text(json.dumps(_logged))
    return result
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin() -> Path | None:
    """The newest PostgreSQL's bin folder holding initdb and pg_ctl, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


class Postgres:
    """A throwaway cluster: trust auth for user ``mlflow`` on 127.0.0.1 only."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin, self.data, self.port = bin_dir, root / "pg", free_port()
        self.sock = root / "pg-sock"
        self.log = root / "pg.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            self.as_user = ["runuser", "-u", "postgres", "--"]
        for folder in (self.data, self.sock):
            folder.mkdir()
            if self.as_user:
                shutil.chown(folder, "postgres", "postgres")
        if self.as_user:
            self.log.touch()
            shutil.chown(self.log, "postgres", "postgres")

    def _run(self, *cmd: str) -> None:
        subprocess.run([*self.as_user, *cmd], check=True, capture_output=True, text=True)

    @property
    def uri(self) -> str:
        # +psycopg2: SQLAlchemy 2.1 maps a bare postgresql:// to psycopg (3), not installed
        return f"postgresql+psycopg2://mlflow@127.0.0.1:{self.port}/mlflow"

    def start(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "mlflow",
                  "--auth=trust", "-E", "UTF8")
        opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts,
                  "-l", str(self.log), "-w", "start")
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "mlflow", "mlflow")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data),
                            "-m", "fast", "-w", "stop"], capture_output=True)


class MlflowServer:
    def __init__(self, backend: str, artifacts: Path, log: Path) -> None:
        self.backend, self.artifacts, self.log = backend, artifacts, log
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, within_s: float = 180) -> float:
        """Start it; returns the seconds it took to answer /health."""
        started = time.monotonic()
        cmd = [str(BIN / "mlflow"), "server", "--backend-store-uri", self.backend,
               "--artifacts-destination", self.artifacts.as_uri(), "--serve-artifacts",
               "--host", "127.0.0.1", "--port", str(self.port), "--workers", "2"]
        self.proc = subprocess.Popen(cmd, stdout=self.log.open("a"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        while time.monotonic() - started < within_s:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited:\n{self.log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{self.uri}/health", timeout=2).close()
                return time.monotonic() - started
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"mlflow server did not answer within {within_s} s:\n"
                           f"{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def epoch_of(run_root: Path) -> list[int]:
    """Epochs completed by each run folder under ``run_root`` (run_info.json)."""
    out = []
    for info in run_root.glob("*/*/*/run_info.json"):
        try:
            out.append(int(json.loads(info.read_text()).get("epoch", 0)))
        except (OSError, ValueError):
            out.append(0)
    return out


def check_run(client, run_dir: Path) -> tuple[bool, int, int, str]:
    """(complete, points lost, duplicate points, what is wrong) for the run in ``run_dir``,
    against its own record (``logged.json``) and its ``recipe.yaml``."""
    from omegaconf import OmegaConf

    from ganrun.builtin.tracking import flatten

    logged = json.loads((run_dir / "logged.json").read_text())
    run = client.get_run(json.loads((run_dir / "run_info.json").read_text())["id"])
    params = flatten(OmegaConf.to_container(OmegaConf.load(run_dir / "recipe.yaml")))
    missing = [k for k, v in params.items() if run.data.params.get(k) != v[:6000]]
    lost = dupes = 0
    for key, steps in logged.items():
        got = [m.step for m in client.get_metric_history(run.info.run_id, key)]
        lost += len(set(steps) - set(got))
        dupes += len(got) - len(set(got))
    problems = []
    if run.info.status != "FINISHED":
        problems.append(f"status {run.info.status}")
    if missing:
        problems.append(f"{len(missing)} params missing")
    if lost or dupes:
        problems.append(f"{lost} points lost, {dupes} duplicated")
    return not problems, lost, dupes, ", ".join(problems)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=70,
                    help="enough that training outlasts the outage and the restart")
    ap.add_argument("--outage", type=float, default=20.0, help="seconds the server is down")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (logs, runs)")
    args = ap.parse_args()
    started = time.monotonic()

    pg_bin = postgres_bin()
    if pg_bin is None:
        print("PostgreSQL's initdb and pg_ctl were not found (/usr/lib/postgresql/*/bin or "
              "PATH). Install them, e.g. on Debian/Ubuntu: apt-get install -y postgresql")
        print("tracking_load: skipped (no PostgreSQL)")
        return 0
    try:
        import psycopg2  # noqa: F401  (the server needs it; checked here to say so early)
    except ImportError:
        print("psycopg2 is missing: pip install -e .[team]")
        print("tracking_load: skipped (no psycopg2)")
        return 0
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        print("running as root, PostgreSQL refuses root, and runuser is missing: run this "
              "script as an ordinary user")
        print("tracking_load: skipped")
        return 0

    from mlflow.tracking import MlflowClient

    tmp = Path(tempfile.mkdtemp(prefix="ganrun-tracking-load-"))
    tmp.chmod(0o755)  # the postgres user reaches its folders inside
    pg = Postgres(pg_bin, tmp)
    server = MlflowServer(pg.uri, tmp / "artifacts", tmp / "mlflow-server.log")
    procs: list[subprocess.Popen] = []
    try:
        pg.start()
        first_start = server.start()
        print(f"postgres {pg_bin.parent.name} on :{pg.port}, mlflow server on :{server.port} "
              f"(answered after {first_start:.1f} s)")
        recipe = tmp / "load.yaml"
        recipe.write_text(RECIPE.format(base=REPO / "recipes" / "quickstart.yaml",
                                        epochs=args.epochs))
        (tmp / "bench_recorder.py").write_text(RECORDER)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "GANRUN_PLUGINS": "bench_recorder",
               "PYTHONPATH": str(tmp)}
        for k in range(args.runs):
            cmd = [str(BIN / "ganrun"), str(recipe), f"track.uri={server.uri}",
                   f"train.seed={k}", f"output.dir={tmp / 'runs' / str(k)}"]
            procs.append(subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                                          stderr=(tmp / f"err{k}.log").open("w")))
        while True:  # every run past its first epoch, so the outage lands mid-training
            epochs = epoch_of(tmp / "runs")
            if len(epochs) == args.runs and min(epochs) >= 1:
                break
            if any(p.poll() is not None for p in procs):
                break
            time.sleep(0.5)
        print(f"stopping the server at epochs {sorted(epoch_of(tmp / 'runs'))}")
        server.stop()
        time.sleep(args.outage)
        restart = server.start()
        print(f"server back after {args.outage:.0f} s down + {restart:.1f} s to start; "
              f"runs at epochs {sorted(epoch_of(tmp / 'runs'))} of {args.epochs}")
        codes = [p.wait() for p in procs]
        print(f"exit codes: {codes}")
        for k, code in enumerate(codes):
            if code:
                tail = (tmp / f"err{k}.log").read_text().splitlines()[-6:]
                print(f"run {k} (exit {code}):", *tail, sep="\n  ")

        client = MlflowClient(server.uri)
        complete = lost = dupes = synced = points = 0
        for k in range(args.runs):
            found = list((tmp / "runs" / str(k)).glob("*/*/logged.json"))
            if not found:
                print(f"run {k}: no record of what it logged (exit {codes[k]})")
                continue
            run_dir = found[0].parent
            if (run_dir / "tracking" / "pending.jsonl").exists():
                synced += 1
                done = subprocess.run([str(BIN / "ganrun"), "sync", str(run_dir)],
                                      capture_output=True, text=True)
                print(f"run {k}: sync exit {done.returncode}: "
                      f"{(done.stdout + done.stderr).strip().splitlines()[-1:]}")
            ok, run_lost, run_dupes, problems = check_run(client, run_dir)
            complete += ok and codes[k] == 0
            lost += run_lost
            dupes += run_dupes
            points += sum(len(v) for v in json.loads(found[0].read_text()).values())
            if not ok:
                print(f"run {k}: {problems}")
        print(f"metric points logged: {points}; duplicated on the server: {dupes}; runs that "
              f"ended with records pending (then sent by ganrun sync): {synced}")
        print(f"runs_complete={complete}/{args.runs} metric_points_lost={lost} "
              f"seconds={time.monotonic() - started:.0f}")
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        server.stop()
        pg.stop()
        if args.keep:
            print(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
