"""End to end through the CLI on a tiny setting: train, track, export, sample, bad input."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from ganrun.cli import main


def uri(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run shared by the tests of this module (2 epochs, 4 steps each)."""
    from tests.conftest import RECIPES, TINY, train_once

    work = tmp_path_factory.mktemp("run")
    recipe = work / "tiny.yaml"
    recipe.write_text(TINY.format(base=RECIPES / "quickstart.yaml", epochs=2, every=1))
    return work, train_once(work, [str(recipe)])


def test_run_writes_grids_checkpoints_generator_and_summary(trained):
    work, s = trained
    out = Path(s["output_dir"])
    assert s["status"] == "FINISHED" and s["run_id"]
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        "image_at_epoch_0001.png", "image_at_epoch_0002.png"]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "ckpt-epoch0001.pt", "ckpt-epoch0002.pt"]
    assert Path(s["generator"]) == out / "generator" / "G.safetensors"
    assert (out / "recipe.yaml").read_text().startswith("method: dcgan")
    assert set(s["metrics"]) >= {"epoch/gen", "epoch/disc", "time/epoch_seconds"}


def test_mlflow_holds_the_finished_run(trained):
    work, s = trained
    client = MlflowClient(uri(work), registry_uri=uri(work))
    run = client.get_run(s["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["ganrun.method"] == "dcgan"
    assert run.data.tags["ganrun.plugin.dcgan"] == "ganrun 0.1.0"
    assert run.data.params["train.batch_size"] == "64" and run.data.params["model.lr_g"] == "0.0004"
    steps = [m.step for m in client.get_metric_history(s["run_id"], "loss/gen")]
    assert sorted(steps) == list(range(1, 9))  # 256 images / 64 = 4 steps x 2 epochs
    assert [m.step for m in client.get_metric_history(s["run_id"], "epoch/disc")] == [1, 2]
    files = {f.path for d in ("grids", "generator", "checkpoints")
             for f in client.list_artifacts(s["run_id"], d)}
    assert {"grids/image_at_epoch_0001.png", "grids/image_at_epoch_0002.png",
            "generator/G.safetensors", "generator/recipe.yaml",
            "checkpoints/ckpt-epoch0002.pt"} <= files
    assert "recipe.yaml" in {f.path for f in client.list_artifacts(s["run_id"])}
    version = client.get_model_version("tiny", "1")
    assert version.run_id == s["run_id"] and version.status == "READY"


def test_sampling_is_reproducible_from_run_id_folder_and_file(trained, monkeypatch):
    work, s = trained
    monkeypatch.chdir(work)
    # exact bytes: every sample below is drawn on this machine from the same weights and seed
    for name in ("a.png", "b.png"):
        assert main(["sample", s["run_id"], "--n", "16", "--seed", "0", "--out", name]) == 0
    assert (work / "a.png").read_bytes() == (work / "b.png").read_bytes()
    assert main(["sample", s["output_dir"], "--n", "16", "--seed", "0", "--out", "c.png"]) == 0
    assert main(["sample", "models:/tiny/1", "--n", "16", "--seed", "0", "--out", "d.png"]) == 0
    assert main(["sample", s["run_id"], "--n", "16", "--seed", "1", "--out", "e.png"]) == 0
    a = (work / "a.png").read_bytes()
    assert a == (work / "c.png").read_bytes() == (work / "d.png").read_bytes()
    assert a != (work / "e.png").read_bytes()
    # the exported file, in a new process, in another folder, with no MLflow store
    other = work / "elsewhere"
    other.mkdir()
    done = subprocess.run([sys.executable, "-m", "ganrun.cli", "sample", s["generator"],
                           "--n", "16", "--seed", "0", "--out", "f.png"],
                          cwd=other, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (other / "f.png").read_bytes() == a
    assert not (other / "mlruns").exists()


def test_sample_refuses_what_is_not_a_generator(trained, monkeypatch, capsys):
    work, s = trained
    monkeypatch.chdir(work)
    assert main(["sample", "s.json", "--out", "x.png"]) == 2
    assert main(["sample", "no-such-run", "--out", "x.png"]) == 2
    assert main(["sample", s["run_id"], "--label", "3", "--out", "x.png"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("ganrun: error: ") for line in err)
    assert "unconditional" in err[2]


@pytest.mark.parametrize("args, needle", [
    (["{r}", "method=nogan"], "unknown method 'nogan'"),
    (["{r}", "train.epoch=3"], "train.epoch"),
    (["{r}", "train.epochs=abc"], "train.epochs"),
    (["{r}", "train.batch_size=-1"], "train.batch_size"),
    (["{r}", "data.name=mnist"], "data.root"),
    (["{bad}"], "YAML syntax error"),
    (["missing.yaml"], "missing.yaml: recipe file not found"),
    (["{r}", "--resume", "nothing-like-this"], "--resume"),
    (["{r}", "--no-such-flag"], "unrecognized arguments"),
])
def test_bad_input_exits_2_with_one_line(tiny_recipe, workdir, capsys, args, needle):
    recipe = tiny_recipe()
    bad = workdir / "bad.yaml"
    bad.write_text("method: dcgan\n  train: [\n")
    args = [a.format(r=recipe, bad=bad) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err
    assert not (workdir / "runs").exists()  # refused before anything trained


def test_bad_input_exit_code_in_a_real_process(tiny_recipe, workdir):
    done = subprocess.run([sys.executable, "-m", "ganrun.cli", str(tiny_recipe()), "train.epoch=3"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "train.epoch" in done.stderr


def test_help_and_version_do_not_import_torch():
    code = ("import sys; from ganrun.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "ganrun RECIPE.yaml [KEY=VALUE ...]" in done.stdout
    done = subprocess.run([sys.executable, "-m", "ganrun.cli", "--version"], capture_output=True, text=True)
    assert done.stdout.strip() == "ganrun 0.1.0"
