"""``ganrun runs`` and ``ganrun compare`` on two finished tiny runs, in the local store and on
a real ``mlflow server``; the runs' names and tags; the experiment filed as model training."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from ganrun.builtin import tracking, tracking_compare
from ganrun.cli import main
from tests.conftest import RECIPES, TINY, free_port, train_once
from tests.mlflow_server import MlflowServer

# sample quality measured at both epochs on 100 samples: eval/ metrics to compare, in seconds
MEASURED = ["metrics.every=1", "metrics.samples=100"]
PNG = b"\x89PNG\r\n\x1a\n"


def two_runs(work: Path, *extra: str) -> list[dict]:
    """Two finished tiny dcgan runs of recipe ``tiny`` that differ in G's learning rate."""
    recipe = work / "tiny.yaml"
    recipe.write_text(TINY.format(base=RECIPES / "quickstart.yaml", epochs=2, every=0))
    return [train_once(work, [str(recipe), *MEASURED, *extra, *lr]) for lr in
            ([], ["model.lr_g=1e-3"])]


@pytest.fixture(scope="module")
def local(tmp_path_factory, one_thread):
    """(work dir, store uri, the two runs' summaries) in the default local store."""
    work = tmp_path_factory.mktemp("local")
    runs = two_runs(work)
    return work, f"sqlite:///{work / 'mlruns' / 'mlflow.db'}", runs


@pytest.fixture(scope="module")
def served(tmp_path_factory, one_thread):
    """(server, the two runs' summaries) tracked on a real ``mlflow server``."""
    server = MlflowServer(tmp_path_factory.mktemp("server"), free_port())
    with server:
        yield server, two_runs(tmp_path_factory.mktemp("work"), f"track.uri={server.uri}")


def names(client: MlflowClient, runs: list[dict]) -> list[str]:
    return [client.get_run(s["run_id"]).info.run_name for s in runs]


def compare(monkeypatch, args: list[str]) -> list:
    """Run ``ganrun compare ARGS``; returns the figures it drew."""
    figures = []
    draw = tracking_compare.plot
    monkeypatch.setattr(tracking_compare, "plot",
                        lambda *a, **k: figures.append(draw(*a, **k)) or figures[-1])
    assert main(["compare", *args]) == 0
    return figures


def check_plot(path: Path, figure, metrics: list[str], labels: list[str]) -> None:
    """A PNG with one subplot a metric: labelled axes and a legend naming every run."""
    assert path.read_bytes()[:8] == PNG
    assert Image.open(path).size[0] > 300
    axes = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_ylabel() for ax in axes] == metrics
    for ax, key in zip(axes, metrics):
        assert ax.get_xlabel() == ("step" if key.startswith("loss/") else "epoch")
        assert [t.get_text() for t in ax.get_legend().get_texts()] == labels
        assert all(len(line.get_xdata()) >= 2 for line in ax.get_lines())


# ------------------------------------------------------------------ the local store
def test_compare_plots_both_runs_and_prints_their_table(local, tmp_path, monkeypatch, capsys):
    work, uri, runs = local
    labels = names(MlflowClient(uri), runs)
    out = tmp_path / "compare.png"
    metrics = ["eval/fid_lenet", "loss/gen"]
    # a run by the start of its id, as `ganrun runs` prints it, and one by its name
    (figure,) = compare(monkeypatch, [runs[0]["run_id"][:8], labels[1],
                                      *[x for m in metrics for x in ("--metric", m)],
                                      "--out", str(out), "--uri", uri])
    check_plot(out, figure, metrics, labels)
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:3] == ["RUN", "NAME", "STATUS"]
    for s, name in zip(runs, labels):
        row = next(line for line in table.splitlines() if line.startswith(s["run_id"][:8]))
        assert name in row and "FINISHED" in row and "dcgan" in row
    assert "fid_lenet  min" in table  # FID: lower is better, so the best is the minimum


def test_compare_chooses_eval_metrics_with_a_best_by_default(local, tmp_path, monkeypatch):
    work, uri, runs = local
    out = tmp_path / "c.png"
    (figure,) = compare(monkeypatch, [s["run_id"] for s in runs] + ["--out", str(out),
                                                                    "--uri", uri])
    metrics = [ax.get_ylabel() for ax in figure.axes if ax.get_visible()]
    assert metrics[0] == "eval/fid_lenet" and all(m.startswith("eval/") for m in metrics)
    assert 1 < len(metrics) <= 4


def test_runs_lists_both_from_the_folder_that_holds_runs(local, monkeypatch, capsys):
    """Without --uri, the working directory's store; its runs/ folder is no recipe."""
    work, uri, runs = local
    monkeypatch.chdir(work)
    assert (work / "runs").is_dir()
    for args in (["runs"], ["runs", "tiny", "--uri", uri]):
        assert main(args) == 0
        out = capsys.readouterr().out
        rows = [line for line in out.splitlines() if line[:8] in {s["run_id"][:8] for s in runs}]
        assert len(rows) == 2 and all("FINISHED" in r and " ok " in f"{r} " for r in rows), out
        assert rows[0].startswith(runs[1]["run_id"][:8])  # newest first
        assert "lr_d=0.0004 lr_g=0.001" in rows[0]


def test_the_experiment_is_filed_as_model_training(local):
    work, uri, runs = local
    exp = MlflowClient(uri).get_experiment_by_name("tiny")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"


def test_runs_are_named_after_recipe_and_time_and_tagged(local):
    from ganrun import __version__

    work, uri, runs = local
    run = MlflowClient(uri).get_run(runs[0]["run_id"])
    assert run.info.run_name == f"tiny-{Path(runs[0]['output_dir']).name}"
    tags = run.data.tags
    assert tags["ganrun.method"] == "dcgan" and tags["ganrun.dataset"] == "mnist5k"
    assert tags["ganrun.recipe_file"] == str(work / "tiny.yaml")
    assert tags["ganrun.seed"] == "0" and tags["ganrun.version"] == __version__
    assert tags["ganrun.plugin.dcgan"] == f"ganrun {__version__}"
    assert "ganrun.git_commit" not in tags  # trained outside any git repository


def test_a_git_commit_is_tagged_where_there_is_one(monkeypatch, tmp_path):
    monkeypatch.setattr(tracking, "_git_commit", lambda: "0123abc")
    run = SimpleNamespace(recipe=SimpleNamespace(method="dcgan", name="r",
                                                 data=SimpleNamespace(name="mnist5k"),
                                                 train=SimpleNamespace(seed=3)),
                          output_dir=tmp_path, recipe_file=None, plugin_versions={})
    tags = tracking.run_tags(run)
    assert tags["ganrun.git_commit"] == tags["mlflow.source.git.commit"] == "0123abc"
    assert tags["ganrun.seed"] == "3" and "ganrun.recipe_file" not in tags


def test_an_older_experiment_without_a_kind_is_given_one(tmp_path):
    from ganrun import mlflow_store

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    old = client.create_experiment("old")
    assert mlflow_store.training_experiment(client, "old", uri) == old
    fresh = MlflowClient(uri).get_experiment(old)
    assert fresh.tags["mlflow.experimentKind"] == "custom_model_development"


def test_better_directions(registry):
    assert registry.better("eval/fid_lenet") == "lower"
    assert registry.better("eval/confident") == "higher"
    assert registry.better("eval/cycle_l1_AB") == "lower"  # cyclegan's own, by pattern
    assert registry.better("eval/attr_acc_styles") == "higher"  # stargan's
    assert registry.better("eval/cls_acc") == "higher"  # cam's
    assert registry.better("eval/ssim") is None  # best when closest to real/ssim


@pytest.mark.parametrize("args, says", [
    (["compare", "nosuchrun", "--out", "c.png"], "RUN: no ganrun run 'nosuchrun'"),
    (["compare", "RUN0", "--metric", "eval/nope", "--out", "c.png"],
     "--metric: no run given logged 'eval/nope'"),
    (["compare", "RUN0", "--out", "c.txt"], "--out: c.txt: write a .png, .pdf, .svg file"),
    (["compare", "--out", "c.png"], "the following arguments are required: RUN"),
    (["runs", "nosuchexperiment"], "EXPERIMENT: no experiment 'nosuchexperiment'"),
    (["runs", "--limit", "0"], "--limit: 0"),
])
def test_bad_input_is_one_line_and_exit_2(local, tmp_path, monkeypatch, capsys, args, says):
    work, uri, runs = local
    monkeypatch.chdir(tmp_path)
    args = [runs[0]["run_id"] if a == "RUN0" else a for a in args]
    assert main([*args, "--uri", uri]) == 2
    captured = capsys.readouterr()
    assert says in captured.err and len(captured.err.strip().splitlines()) == 1, captured.err
    assert not list(tmp_path.iterdir())  # nothing written


def test_no_local_store_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["runs"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganrun: error: --uri: no MLflow store at ") and "\n" not in err
    assert not (tmp_path / "mlruns").exists()  # not created empty


# ------------------------------------------------------------------ a tracking server
def test_runs_and_compare_against_a_server(served, tmp_path, monkeypatch, capsys):
    server, runs = served
    client = MlflowClient(server.uri)
    assert client.get_experiment_by_name("tiny").tags["mlflow.experimentKind"] == \
        "custom_model_development"
    assert main(["runs", "--uri", server.uri]) == 0
    listed = capsys.readouterr().out
    assert all(s["run_id"][:8] in listed for s in runs)
    out = tmp_path / "served.png"
    (figure,) = compare(monkeypatch, [s["run_id"][:8] for s in runs] + [
        "--metric", "eval/confident", "--out", str(out), "--uri", server.uri])
    check_plot(out, figure, ["eval/confident"], names(client, runs))
    table = capsys.readouterr().out
    assert all(name in table for name in names(client, runs))


def test_the_ui_address_opens_the_training_view():
    """MLflow 3.17's UI takes GenAI or training from the address (else GenAI)."""
    from ganrun.mlflow_store import ui_url

    assert ui_url("http://127.0.0.1:5000/", "1", "abc") == \
        "http://127.0.0.1:5000/#/experiments/1/runs/abc?workflowType=machine_learning"
