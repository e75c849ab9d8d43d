"""A real ``mlflow server``: runs land on it, and a server that stops mid-run loses nothing.

The server (SQLite backend, artifacts served from a temp folder) is started once for the
module and stopped by its finalizer, whatever happens. A test plugin stops it at a chosen
epoch's end (before the tracker's flush of that epoch) and may start it again later. That
an unreachable ``track.uri`` is refused within seconds is tested in test_refusals.py.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
import types
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import free_port
from tests.mlflow_server import MlflowServer
from ganrun import hookimpl
from ganrun import tracking_outbox as ob
from ganrun.cli import main

STEPS_PER_EPOCH = 4  # conftest's TINY: 256 images, batches of 64


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = MlflowServer(tmp_path_factory.mktemp("mlflow-server"), free_port())
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def up(server):
    """The module's server, answering (a test before may have left it stopped)."""
    if server.proc is None or server.proc.poll() is not None:
        server.start()
    return server


def install(monkeypatch, name: str, **hooks) -> None:
    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(module, hook, hookimpl(fn))
    monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setenv("GANRUN_PLUGINS", name)


def train(recipe: Path, uri: str, *extra: str) -> dict:
    assert main([str(recipe), f"track.uri={uri}", "train.log_every=1", *extra,
                 "--summary-json", "s.json"]) == 0
    return json.loads(Path("s.json").read_text())


def assert_every_point(client: MlflowClient, run_id: str, epochs: int) -> None:
    """Each key holds exactly the run's points: every step of a step loss (every k-th of
    one a method sends on some steps: the quick start's lazy R1 penalty), every epoch of an
    epoch metric, once."""
    from omegaconf import OmegaConf

    from tests.conftest import RECIPES

    stride = {"r1": OmegaConf.load(RECIPES / "quickstart.yaml").model.r1_every}

    def sent(key: str, step: int) -> bool:  # does the step's train_step return it
        return (step - 1) % stride.get(key.split("/", 1)[1], 1) == 0

    def expected(key: str) -> list[int]:
        if key.startswith("loss/"):
            return [s for s in range(1, epochs * STEPS_PER_EPOCH + 1) if sent(key, s)]
        if key.startswith("epoch/"):  # an epoch mean of the steps that sent it
            return [e for e in range(1, epochs + 1) if any(
                sent(key, s) for s in range((e - 1) * STEPS_PER_EPOCH + 1,
                                            e * STEPS_PER_EPOCH + 1))]
        return list(range(1, epochs + 1))

    keys = client.get_run(run_id).data.metrics.keys()
    assert any(k.startswith("loss/") for k in keys) and "epoch/gen" in keys
    for key in keys:
        steps = sorted(m.step for m in client.get_metric_history(run_id, key))
        assert steps == expected(key), key


def warnings_in(err: str) -> list[str]:
    return [line for line in err.splitlines() if "warning" in line]


def test_a_run_lands_on_the_server(tiny_recipe, workdir, up, capsys):
    s = train(tiny_recipe(epochs=2), up.uri)
    client = MlflowClient(up.uri)
    run = client.get_run(s["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["ganrun.status"] == "FINISHED"
    assert run.data.params["train.epochs"] == "2" and run.data.params["method"] == "dcgan"
    assert_every_point(client, s["run_id"], epochs=2)
    names = {a.path for a in client.list_artifacts(s["run_id"])}
    assert {"recipe.yaml", "grids", "checkpoints", "generator"} <= names
    assert not (Path(s["output_dir"]) / "tracking").exists()
    assert warnings_in(capsys.readouterr().err) == []


def test_a_server_down_until_the_end_loses_nothing_and_sync_uploads_it(
        tiny_recipe, workdir, up, capsys, monkeypatch):
    def stop_after_epoch_1(run, report):
        if report.epoch == 1:
            up.stop()

    install(monkeypatch, "server_stopper", ganrun_epoch_end=stop_after_epoch_1)
    started = time.monotonic()
    s = train(tiny_recipe(epochs=3), up.uri, "train.keep_checkpoints=1")
    assert time.monotonic() - started < 60  # the dead server cost seconds, not minutes
    run_dir = Path(s["output_dir"])
    assert s["status"] == "FINISHED"

    pending = ob.Outbox(run_dir)
    counts = pending.counts()
    assert counts.status == "FINISHED" and counts.artifacts >= 4  # grids, ckpts, generator
    (line,) = warnings_in(capsys.readouterr().err)
    assert f"tracking store {up.uri} unreachable (" in line
    assert f"): {counts.metrics} metric points" in line
    assert line.endswith(f"upload them with: ganrun sync {run_dir}")
    assert pending.path == run_dir / "tracking" / "pending.jsonl"
    saved = {p.name: p.read_bytes() for p in (run_dir / "tracking").iterdir()}

    assert main(["sync", str(run_dir)]) == 2  # the server is still down
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert err.startswith(f"ganrun: error: ganrun sync: no tracking server answers at {up.uri}")

    up.start()
    assert main(["sync", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert f"uploaded to {up.uri}, run {s['run_id']}: {counts.metrics} metric points" in out
    assert "status FINISHED" in out
    # keep_checkpoints=1 pruned epoch 1's and 2's checkpoints before they could be sent
    assert "gone from the run folder: checkpoints/ckpt-epoch0001.pt" in out
    assert "gone from the run folder: checkpoints/ckpt-epoch0002.pt" in out
    assert not (run_dir / "tracking").exists()

    client = MlflowClient(up.uri)
    run = client.get_run(s["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["ganrun.status"] == "FINISHED"
    assert_every_point(client, s["run_id"], epochs=3)
    on_server = sum(len(client.get_metric_history(s["run_id"], k)) for k in run.data.metrics)
    assert on_server == counts.metrics  # every point logged after the drop, once
    names = {a.path for a in client.list_artifacts(s["run_id"], "checkpoints")}
    assert names == {"checkpoints/ckpt-epoch0003.pt"}
    assert len(client.search_model_versions(f"run_id='{s['run_id']}'")) == 1

    # the same records sent again (a sync whose answer was lost) change nothing
    (run_dir / "tracking").mkdir()
    for name, data in saved.items():
        (run_dir / "tracking" / name).write_bytes(data)
    assert main(["sync", str(run_dir)]) == 0
    assert_every_point(client, s["run_id"], epochs=3)
    assert len(client.search_model_versions(f"run_id='{s['run_id']}'")) == 1
    capsys.readouterr()
    assert main(["sync", str(run_dir)]) == 0
    assert "nothing pending" in capsys.readouterr().out


def test_a_server_back_before_the_end_gets_everything_without_sync(
        tiny_recipe, workdir, up, capsys, monkeypatch):
    def stop_then_start(run, report):
        if report.epoch == 1:
            up.stop()
        elif report.epoch == 2:
            up.start()

    install(monkeypatch, "server_bouncer", ganrun_epoch_end=stop_then_start)
    s = train(tiny_recipe(epochs=3), up.uri)
    err = capsys.readouterr().err
    assert "did not take the run's records" in err  # said once, when it dropped
    assert warnings_in(err) == []
    assert not (Path(s["output_dir"]) / "tracking").exists()
    client = MlflowClient(up.uri)
    assert client.get_run(s["run_id"]).info.status == "FINISHED"
    assert_every_point(client, s["run_id"], epochs=3)


def test_sync_refuses_what_is_not_a_run_folder(tmp_path, capsys):
    missing = tmp_path / "missing"
    assert main(["sync", str(missing)]) == 2
    assert capsys.readouterr().err.strip() == f"ganrun: error: RUN_DIR: {missing} is not a folder"
    assert main(["sync", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "not a ganrun run folder" in line


def test_the_outbox_replays_each_record_once_into_a_local_store(tmp_path):
    """The same path serves the local SQLite store; a torn last line (a kill mid-write) is
    left out; records replayed twice are stored once."""
    from ganrun.mlflow_store import register_generator

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("x")).info.run_id
    box = ob.Outbox(tmp_path / "run", uri, run_id)
    for step in range(1, 1501):  # more than one log_batch
        box.add(ob.metric("loss/d", step / 7, step))
    box.add(ob.param("lr", "0.1"))
    box.add(ob.tag("t", "a"))
    box.add(ob.tag("t", "b"))  # the same key twice: the later one wins
    box.add(ob.artifact(tmp_path / "run" / "gone.png", "grids", tmp_path / "run"))
    box.add(ob.status("FINISHED"))
    box.persist()
    with box.path.open("a") as f:
        f.write('{"kind": "metric", "ke')  # torn
    copy = box.path.read_bytes()

    again = ob.Outbox(tmp_path / "run")
    assert (again.uri, again.run_id, len(again.records)) == (uri, run_id, 1505)
    sent = ob.replay(again, client, run_id, register_generator)
    again.settle()
    assert (sent.metrics, sent.params, sent.tags, sent.gone) == (1500, 1, 2, ["gone.png"])
    assert not (tmp_path / "run" / "tracking").exists()

    (tmp_path / "run" / "tracking").mkdir()
    (tmp_path / "run" / "tracking" / "pending.jsonl").write_bytes(copy)
    ob.replay(ob.Outbox(tmp_path / "run", uri, run_id), client, run_id, register_generator)
    run = client.get_run(run_id)
    assert len(client.get_metric_history(run_id, "loss/d")) == 1500
    assert run.data.tags["t"] == "b" and run.info.status == "FINISHED"
    shutil.rmtree(tmp_path / "run")
