"""Faults a multi-day run meets, induced on a small recipe; each run resumed to the end.

    .venv/bin/python bench/fault_suite.py [--kills 20] [--seed 0] [--only GROUP ...]

The recipe is the quick start on 1,024 digits for 4 epochs (64 steps each), a checkpoint
every 7 steps and at each epoch's end, the newest 3 kept, tracked in MLflow. An
uninterrupted run of it gives the reference weights. Then:

- a chain of SIGKILLs: most at random moments (a random delay after the process starts:
  during start-up, resume, training or a checkpoint write), and 9 of 20 forced inside a
  checkpoint write, 3 in each phase (half the temporary file written; whole but not
  renamed; renamed but the folder not synced); after each, ``--resume`` the run, until the
  run ends (then a new run takes the next kills);
- SIGTERM, Ctrl-C, and Ctrl-C twice, each resumed to the end;
- the newest checkpoint corrupted (one flipped byte) or truncated, then resumed; every
  checkpoint corrupted (exit 2 expected);
- a full disk (a tmpfs the script mounts, filled after a checkpoint) at the next checkpoint
  and at the export, then space freed and the run resumed;
- checkpoints replaced by pickles that would create a marker file, in the old format and in
  the checksummed one with a valid checksum (exit 2 and no marker expected);
- ``ganrun data download`` killed mid-transfer, then run again (no ``.part`` left).

Prints a table, and last ``faults_survived=<k>/<n> weights_equal=<yes|no> code_ran=<no|yes>``,
where weights_equal compares the final weights of every resumed run with the reference
(bit for bit: the same machine, the same kernels).
"""
from __future__ import annotations

import argparse
import hashlib
import http.server
import io
import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out" / "fault_suite"
RECIPE = f"""\
extends: {REPO / 'recipes' / 'quickstart.yaml'}
data: {{limit: 1024}}
train:
  epochs: 4
  checkpoint_every: 1
  checkpoint_every_steps: 7
  keep_checkpoints: 3
  threads: 1
metrics: {{every: 0}}
"""


GROUPS = ["kills", "signals", "corrupt", "disk", "pickle", "download"]


@dataclass
class Row:
    fault: str
    detail: str
    survived: bool
    weights: str = "-"  # equal / DIFFERENT / - (not compared)


def ganrun(work: Path, args: list[str], **env: str) -> subprocess.Popen:
    full = {**os.environ, "PYTHONPATH": str(REPO / "bench"), **env}
    if "GANRUN_FAULT" in env:
        full["GANRUN_PLUGINS"] = "suite.faults"
    return subprocess.Popen([sys.executable, "-m", "ganrun.cli", "fault.yaml", *args], cwd=work,
                            env=full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    _, err = proc.communicate()
    return proc.returncode, err


def new_work(name: str, extra: str = "") -> Path:
    work = OUT / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "fault.yaml").write_text(RECIPE + extra)
    return work


def run_dir(work: Path, runs: str = "runs") -> Path | None:
    found = sorted((work / runs / "fault").glob("*")) if (work / runs / "fault").is_dir() else []
    return found[-1] if found else None


def ckpts(folder: Path | None) -> list[Path]:
    return sorted((folder / "checkpoints").glob("ckpt-epoch*.pt")) if folder else []


def partials(folder: Path | None) -> list[Path]:
    """Temporary files of checkpoint writes a kill interrupted."""
    return sorted((folder / "checkpoints").glob(".*.tmp")) if folder else []


def weights_of(summary: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(json.loads(summary.read_text())["generator"])


def equal(a: dict, b: dict) -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def resume(work: Path, runs: str = "runs", **env: str) -> tuple[int, str]:
    """Resume the run in ``work`` to its end (or start it, if the kill came before it had a
    folder)."""
    folder = run_dir(work, runs)
    args = [f"output.dir={runs}"] if runs != "runs" else []
    args += (["--resume", str(folder)] if folder else []) + ["--summary-json", "s.json"]
    code, err = finish(ganrun(work, args, **env))
    if code not in (0, 2):
        print(f"fault_suite: resume in {work} exit {code}:\n{err[-1500:]}", file=sys.stderr)
    return code, err


def wait_for(check, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def tracked_status(work: Path) -> str:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{work / 'mlruns' / 'mlflow.db'}")
    (exp,) = [e for e in client.search_experiments() if e.name == "fault"]
    return client.search_runs([exp.experiment_id])[0].info.status


# ------------------------------------------------------------------ the faults
def kill_chain(reference: dict, kills: int, rng: random.Random, startup: float,
               total: float) -> list[Row]:
    """SIGKILLs at random moments, resumed after each; a new run when one ends first."""
    kinds = ["write_payload", "before_rename", "after_rename"] * (kills // 6)
    kinds += ["random"] * (kills - len(kinds))
    rng.shuffle(kinds)
    rows: list[Row] = []
    chain, work, pending = 0, None, []  # pending: this run's faults, judged when it ends

    def close_chain() -> None:
        code, err = resume(work)
        same = code == 0 and equal(weights_of(work / "s.json"), reference)
        leftovers = partials(run_dir(work))
        for row in pending:
            row.survived = row.survived and code == 0 and not leftovers
            row.weights = "equal" if same else "DIFFERENT"
        if code != 0:
            print(err[-1500:], file=sys.stderr)

    for kind in kinds:
        while True:
            if work is None:
                chain += 1
                work = new_work(f"chain{chain}")
            folder = run_dir(work)
            before = ckpts(folder)
            stale = set(partials(folder))
            args = ["--resume", str(folder)] if folder else []
            if kind == "random":
                delay = rng.uniform(0.3, startup + 0.5 * (total - startup))
                proc = ganrun(work, args)
                time.sleep(delay)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                detail = f"at {delay:.2f} s"
            else:
                nth = rng.randint(1, 3)
                proc = ganrun(work, args, GANRUN_FAULT=kind, GANRUN_FAULT_NTH=str(nth))
                detail = f"checkpoint write {nth}: {kind.replace('_', ' ')}"
            code, err = finish(proc)
            if code == -signal.SIGKILL:
                break
            ok = code == 0  # the run ended before the fault: judge its faults, start anew
            for row in pending:
                row.survived = row.survived and ok
            close_chain()
            pending, work = [], None
        after = ckpts(run_dir(work))
        partial = set(partials(run_dir(work))) - stale
        newest = after[-1].name if after else "none"
        detail += f"; newest {newest.removeprefix('ckpt-').removesuffix('.pt')}"
        detail += f" ({len(after) - len(before):+d} ckpt{', partial file left' if partial else ''})"
        row = Row(f"SIGKILL {'random' if kind == 'random' else 'in write'}", detail, True)
        rows.append(row)
        pending.append(row)
    close_chain()
    return rows


def stop_signal(reference: dict, name: str, signals: list[int], expect: int) -> Row:
    work = new_work(name)
    proc = ganrun(work, [])
    wait_for(lambda: len(ckpts(run_dir(work))) >= 1)
    for s in signals:
        proc.send_signal(s)
        time.sleep(0.05)
    code, err = finish(proc)
    said = "resume: ganrun fault.yaml --resume" in err
    status = tracked_status(work)
    ok = code == expect and status == "KILLED" and (said or len(signals) > 1)
    rcode, rerr = resume(work)
    same = rcode == 0 and equal(weights_of(work / "s.json"), reference)
    ok = ok and rcode == 0 and tracked_status(work) == "FINISHED"
    return Row(name, f"exit {code}, MLflow {status}, resume command {'printed' if said else 'not printed'}; "
               f"resumed: exit {rcode}", ok, "equal" if same else "DIFFERENT")


def damaged(reference: dict, name: str, damage) -> Row:
    work = new_work(name)
    proc = ganrun(work, [])
    wait_for(lambda: len(ckpts(run_dir(work))) >= 3)
    proc.kill()
    finish(proc)
    found = ckpts(run_dir(work))
    damage(found[-1])
    code, err = resume(work)
    warned = [line for line in err.splitlines() if "warning: skipping checkpoint" in line]
    same = code == 0 and equal(weights_of(work / "s.json"), reference)
    return Row(name, f"{found[-1].name}: {warned[0].split(': ', 2)[-1] if warned else 'NO WARNING'}",
               code == 0 and len(warned) == 1, "equal" if same else "DIFFERENT")


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def none_readable() -> Row:
    work = new_work("none_readable")
    proc = ganrun(work, [])
    wait_for(lambda: len(ckpts(run_dir(work))) >= 2)
    proc.kill()
    finish(proc)
    for path in ckpts(run_dir(work)):
        flip(path)
    code, err = resume(work)
    line = err.strip().splitlines()[-1] if err.strip() else ""
    ok = code == 2 and str(run_dir(work) / "checkpoints") in line
    said = line.removeprefix("ganrun: error: ").replace(str(run_dir(work)), "RUN")
    return Row("every checkpoint corrupt", f"exit {code}: {said}", ok)


class Tmpfs:
    """A small tmpfs mounted for the full-disk faults; unmounted and removed after."""

    def __init__(self, path: Path, mb: int = 64):
        self.path, self.mb, self.error = path, mb, ""

    def __enter__(self) -> "Tmpfs":
        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.mb}m", "tmpfs",
                               str(self.path)], capture_output=True, text=True)
        self.error = done.stderr.strip() if done.returncode else ""
        return self

    def __exit__(self, *exc) -> None:
        if not self.error:
            subprocess.run(["umount", str(self.path)], check=False)
        shutil.rmtree(self.path, ignore_errors=True)


def full_disk(reference: dict, name: str, fault: str, leave: int) -> Row:
    work = new_work(name)
    with Tmpfs(work / "disk") as disk:
        if disk.error:
            return Row(name, f"SKIPPED: cannot mount a tmpfs ({disk.error[:80]})", True, "skipped")
        filler = work / "disk" / "filler"
        code, err = finish(ganrun(work, ["output.dir=disk/runs"], GANRUN_FAULT=fault,
                                  GANRUN_FAULT_NTH="2", GANRUN_FAULT_LEAVE=str(leave),
                                  GANRUN_FAULT_FILLER=str(filler)))
        line = err.strip().splitlines()[-1] if err.strip() else ""
        folder = run_dir(work, "disk/runs")
        left = sorted(p.name for p in (folder / "checkpoints").iterdir())
        from ganrun.checkpoint import load_checkpoint

        try:
            load_checkpoint(ckpts(folder)[-1])
            intact = True
        except Exception:
            intact = False
        status = tracked_status(work)
        ok = (code == 1 and "no space left on the device" in line and intact
              and not any(n.startswith(".") for n in left) and status == "FAILED")
        filler.unlink()
        rcode, rerr = resume(work, "disk/runs")
        if rcode:
            print(rerr[-1500:], file=sys.stderr)
        same = rcode == 0 and equal(weights_of(work / "s.json"), reference)
        ok = ok and rcode == 0
        what = line.split("for the ", 1)[-1].split(";")[0]
        return Row(name, f"exit {code}, MLflow {status}, newest intact: {intact}, temp files: "
                   f"{sum(n.startswith('.') for n in left)}; '{what}'; resumed: exit {rcode}", ok,
                   "equal" if same else "DIFFERENT")


class _RunsCode:
    marker = ""

    def __reduce__(self):
        return (os.system, (f"touch {_RunsCode.marker}",))


def crafted(name: str, checksummed: bool) -> tuple[Row, bool]:
    from ganrun.checkpoint import CHECKPOINT_MAGIC

    work = new_work(name)
    proc = ganrun(work, [])
    wait_for(lambda: len(ckpts(run_dir(work))) >= 1)
    proc.kill()
    finish(proc)
    marker = work / "code-ran"
    _RunsCode.marker = str(marker)
    payload = pickle.dumps({"format": "ganrun-checkpoint/1", "x": _RunsCode()})
    data = CHECKPOINT_MAGIC + hashlib.sha256(payload).digest() + payload if checksummed else payload
    for path in ckpts(run_dir(work)):
        path.write_bytes(data)
    code, err = resume(work)
    ran = marker.exists()
    line = err.strip().splitlines()[-1] if err.strip() else ""
    warned = [w for w in err.splitlines() if "warning: skipping checkpoint" in w]
    reason = (warned[0] if warned else line).split(": ", 3)[-1]
    return Row(name, f"exit {code}, marker {'CREATED' if ran else 'absent'}: {reason[:130]}",
               code == 2 and not ran), ran


def killed_download() -> Row:
    """A download killed mid-transfer leaves a ``.part``; the next download removes it."""
    from ganrun.data.download import ArchiveSpec, download

    root = OUT / "download"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for part in ("trainA", "trainB", "testA", "testB"):
            z.writestr(f"tiny/{part}/0.txt", os.urandom(1 << 18))
    data = out.getvalue()
    sent, release = threading.Event(), threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if release.is_set():
                self.wfile.write(data)
                return
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            sent.set()
            release.wait(60)

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    spec = dict(name="tiny", url=f"http://127.0.0.1:{httpd.server_address[1]}/tiny.zip",
                size=len(data), sha256=hashlib.sha256(data).hexdigest(), folder="tiny")
    code = (f"from ganrun.data.download import ArchiveSpec, download\n"
            f"download(ArchiveSpec(**{spec!r}), {str(root)!r}, progress=False)\n")
    child = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    wait_for(lambda: sent.is_set() and any(root.glob(".tiny.*.part")), 60)
    child.kill()
    child.wait()
    left = [p.name for p in root.iterdir()]
    release.set()
    try:
        download(ArchiveSpec(**spec), root, progress=False)
    finally:
        httpd.shutdown()
        httpd.server_close()
    after = sorted(p.name for p in root.iterdir())
    return Row("SIGKILL in data download", f"left {len(left)} part file(s); next download: {after}",
               len(left) == 1 and after == ["tiny"])


# ------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", default=GROUPS, choices=GROUPS,
                    help="run only these groups of faults (default: all)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.time()

    work = new_work("reference")
    t0 = time.monotonic()
    proc = ganrun(work, ["--summary-json", "s.json"])
    wait_for(lambda: bool(ckpts(run_dir(work))) or proc.poll() is not None, 300)
    startup = time.monotonic() - t0  # to the first checkpoint, 7 steps in
    code, err = finish(proc)
    total = time.monotonic() - t0
    if code != 0:
        sys.exit(f"fault_suite: the reference run failed:\n{err[-2000:]}")
    reference = weights_of(work / "s.json")
    size = ckpts(run_dir(work))[-1].stat().st_size
    print(f"reference run: {total:.1f} s ({startup:.1f} s to the first checkpoint), checkpoints of "
          f"{size / 1e6:.2f} MB", flush=True)

    rows: list[Row] = []
    code_ran = False
    if "kills" in args.only:
        rows += kill_chain(reference, args.kills, rng, startup, total)
    if "signals" in args.only:
        rows.append(stop_signal(reference, "SIGTERM", [signal.SIGTERM], 143))
        rows.append(stop_signal(reference, "Ctrl-C", [signal.SIGINT], 130))
        rows.append(stop_signal(reference, "Ctrl-C twice", [signal.SIGINT, signal.SIGINT], 130))
    if "corrupt" in args.only:
        rows.append(damaged(reference, "newest corrupt", flip))
        rows.append(damaged(reference, "newest truncated", truncate))
        rows.append(none_readable())
    if "disk" in args.only:
        rows.append(full_disk(reference, "ENOSPC at a checkpoint", "fill_after_checkpoint", size // 2))
        rows.append(full_disk(reference, "ENOSPC at the export", "fill_before_export", 4096))
    if "pickle" in args.only:
        for name, checksummed in (("crafted pickle", False), ("crafted pickle, valid checksum", True)):
            row, ran = crafted(name, checksummed)
            rows.append(row)
            code_ran = code_ran or ran
    if "download" in args.only:
        rows.append(killed_download())

    width = max(len(r.fault) for r in rows)
    print(f"\n{'fault':<{width}}  {'survived':<8}  {'weights':<9}  detail")
    for r in rows:
        print(f"{r.fault:<{width}}  {'yes' if r.survived else 'NO':<8}  {r.weights:<9}  {r.detail}")
    compared = [r for r in rows if r.weights not in ("-", "skipped")]
    survived = sum(r.survived for r in rows)
    print(f"\n{len(rows)} faults, {len(compared)} runs' final weights compared with the "
          f"reference; {time.time() - started:.0f} s")
    print(f"faults_survived={survived}/{len(rows)} "
          f"weights_equal={'n/a' if not compared else 'yes' if all(r.weights == 'equal' for r in compared) else 'no'} "
          f"code_ran={'yes' if code_ran else 'no'}")


if __name__ == "__main__":
    main()
