"""The outside plugin package examples/ganrun-wgan, used as a user would use it.

pip builds and installs it (no network: ``--no-deps --no-build-isolation``) into a
throwaway virtual environment layered over this one (a ``.pth`` file adds this
environment's site-packages, ganrun included), so the test environment never holds it.
Everything then runs through the ``ganrun`` command of that environment, in subprocesses,
and the test reads the runs' MLflow store and checkpoints; finally pip uninstalls it.
The tests of this module share the environment and run in order: uninstalling is last.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import RECIPES, REPO, TINY

EXAMPLE = REPO / "examples" / "ganrun-wgan"
TIMEOUT = 900  # seconds per command: generous, the machine may be busy


@dataclass
class Env:
    python: Path  # the throwaway environment's interpreter
    site: Path  # its site-packages
    work: Path  # the folder commands run in: runs/ and mlruns/ land here

    def run(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k != "GANRUN_PLUGINS"}
        done = subprocess.run([str(a) for a in args], cwd=self.work, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT)
        if check is not None:
            assert done.returncode == check, \
                f"{args}: exit {done.returncode}\n{done.stderr[-3000:]}"
        return done

    def ganrun(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess:
        return self.run(self.python, "-m", "ganrun", *args, check=check)

    def pip(self, *args: str) -> subprocess.CompletedProcess:
        """This environment's pip, acting on the throwaway one (pip's ``--python``)."""
        return self.run(sys.executable, "-m", "pip", "--python", self.python,
                        "--disable-pip-version-check", *args)

    def train(self, *args: str) -> dict:
        self.ganrun(*args, "train.threads=1", "--summary-json", "s.json")
        return json.loads((self.work / "s.json").read_text())


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Env:
    root = tmp_path_factory.mktemp("ganrun_wgan")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=TIMEOUT)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True, check=True,
                               timeout=TIMEOUT).stdout.strip())
    parent = sysconfig.get_paths()["purelib"]  # addsitedir: its .pth files (ganrun -e) count
    (site / "_test_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    src = root / "ganrun-wgan"  # a copy: pip's in-tree build writes build/ and *.egg-info
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                "__pycache__"))
    (root / "work").mkdir()
    env = Env(python, site, root / "work")
    env.pip("install", "--no-deps", "--no-build-isolation", "--no-index", src)
    return env


def test_ganrun_plugins_lists_the_installed_package(env):
    out = env.ganrun("plugins").stdout
    assert "wgan_gp  (ganrun-wgan 0.1.0, ganrun_wgan.plugin:plugin)" in out
    assert "wgan_sn  (ganrun-wgan 0.1.0, ganrun_wgan.spectral)" in out
    assert "methods: cam, cgan, cyclegan, dcgan, stargan, wgan_gp\n" in out
    assert "all healthy" in env.ganrun("plugins", "--check").stdout


def test_its_recipe_trains_and_is_tracked_in_mlflow(env):
    from mlflow.tracking import MlflowClient

    summary = env.train(EXAMPLE / "recipes" / "wgan_gp_tiny.yaml")
    assert summary["status"] == "FINISHED" and Path(summary["generator"]).is_file()
    client = MlflowClient(tracking_uri=f"sqlite:///{env.work / 'mlruns' / 'mlflow.db'}")
    run = client.get_run(summary["run_id"])
    assert run.info.status == "FINISHED" and run.data.params["method"] == "wgan_gp"
    assert any("ganrun-wgan 0.1.0" in v for v in run.data.tags.values())  # plugin versions
    history = {signal: [m.value for m in client.get_metric_history(run.info.run_id,
                                                                     f"loss/{signal}")]
               for signal in ("w_distance", "gp")}  # the names the Wasserstein monitors read
    assert all(len(values) == 8 for values in history.values())  # 256 digits / batch 32
    assert all(v >= 0 for v in history["gp"])  # lambda x a squared distance

def test_wgan_sn_replaces_only_the_discriminator_of_a_dcgan_run(env):
    from ganrun.checkpoint import CHECKPOINT_DIR, resume_point

    recipe = env.work / "tiny_dcgan.yaml"
    recipe.write_text(TINY.format(base=RECIPES / "quickstart.yaml", epochs=1, every=1))
    summary = env.train(recipe, "wgan_sn.enabled=true")
    _, state = resume_point(Path(summary["output_dir"]) / CHECKPOINT_DIR)
    nets = state["trainer"]["networks"]
    d_keys, g_keys = set(nets["D"]), set(nets["G"])
    assert "conv1.conv.parametrizations.weight.original" in d_keys
    assert {"conv2.conv.parametrizations.weight.0._u", "fc.parametrizations.weight.0._v"} <= d_keys
    assert "conv1.conv.weight" not in d_keys
    from ganrun_plugins.dcgan.networks import Generator

    assert g_keys == set(Generator(100, (16, 8, 4)).state_dict())  # dcgan's own G

    # the same recipe with the section off builds dcgan's own D; another method refuses it
    probe = ("from ganrun.engine import build_trainer; from ganrun.plugin_check import "
             "load_plugins; from ganrun.recipe import load_recipe; import sys, torch\n"
             "pm, reg, _ = load_plugins()\n"
             "for args in ([], ['wgan_sn.enabled=true']):\n"
             "    t = build_trainer(load_recipe(sys.argv[1], args, registry=reg), pm, reg,"
             " torch.device('cpu'))\n"
             "    fc = t.D.fc.weight\n"
             "    print(type(t.D).__name__, hasattr(t.D.fc, 'parametrizations'),"
             " round(float(torch.linalg.matrix_norm(fc, ord=2)), 2))\n")
    plain, normalised = env.run(env.python, "-c", probe, recipe).stdout.split("\n")[:2]
    assert plain.startswith("Discriminator False") and normalised.startswith("Discriminator True")
    assert abs(float(normalised.split()[-1]) - 1.0) < 0.05  # fc is 1 x N: exact at once
    refused = env.ganrun(RECIPES / "cgan_mnist.yaml", "wgan_sn.enabled=true", check=2)
    assert "wgan_sn.enabled: the spectral-norm discriminator serves method 'dcgan', not " \
           "'cgan'" in refused.stderr


def test_the_generator_steps_once_every_n_critic_critic_steps(monkeypatch, one_thread):
    """Algorithm 1's schedule, in this process: the package's modules import from the source
    folder (no entry point is installed here), and the plugin is added by hand."""
    import torch

    from ganrun.engine import build_trainer
    from ganrun.plugins import get_plugin_manager
    from ganrun.recipe import load_recipe
    from ganrun.registry import Registry

    monkeypatch.syspath_prepend(str(EXAMPLE))
    from ganrun_wgan.plugin import plugin

    pm = get_plugin_manager()
    pm.add(plugin, "wgan_gp")
    registry = Registry.from_hooks(pm.hook)
    recipe = load_recipe(EXAMPLE / "recipes" / "wgan_gp_tiny.yaml", ["model.n_critic=3"],
                         registry=registry)
    trainer = build_trainer(recipe, pm, registry, torch.device("cpu"))
    assert trainer.optimizers["G"].param_groups[0]["betas"] == (0.0, 0.9)
    batch = {"image": torch.rand(32, 1, 28, 28) * 2 - 1}

    def weights(net):
        return torch.cat([p.detach().flatten() for p in net.parameters()]).clone()

    for step in (1, 2, 3):
        g, d = weights(trainer.G), weights(trainer.D)
        out = trainer.train_step(batch)
        assert not torch.equal(d, weights(trainer.D))  # the critic learns every step
        assert torch.equal(g, weights(trainer.G)) == (step < 3)  # G on the 3rd only
        assert ("grad_G" in out) == (step == 3) and out["gp"] >= 0
    assert trainer.state_dict()["extra"]["iteration"] == 3


def test_pip_uninstall_removes_it_cleanly(env):
    env.pip("uninstall", "--yes", "ganrun-wgan")
    assert not [p.name for p in env.site.iterdir() if p.name.startswith("ganrun_wgan")]
    out = env.ganrun("plugins").stdout
    assert "wgan_" not in out and "methods: cam, cgan, cyclegan, dcgan, stargan\n" in out
    gone = env.ganrun(EXAMPLE / "recipes" / "wgan_gp_tiny.yaml", check=2)
    assert "unknown method 'wgan_gp'" in gone.stderr
