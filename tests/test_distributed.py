"""Several processes, one run: gradients averaged for both gradient styles, the shards of an
epoch, and dcgan and cyclegan through torchrun (2 processes, gloo, 127.0.0.1): rank 0 alone
writes, the ranks end with identical weights, a killed run resumes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mlflow.tracking import MlflowClient
from safetensors.torch import load_file
from torch import nn

from tests.conftest import RECIPES, TINY, free_port
from tests.test_cyclegan_run import TINY as CYCLEGAN_TINY
from ganrun.errors import UserError
from ganrun.sampler import EpochBatches, ShardedBatches
from ganrun.trainer import Trainer

TORCHRUN = Path(sys.executable).parent / "torchrun"


# ---------------------------------------------------------------------- gradients
def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(8, 3, generator=g), torch.randn(8, 1, generator=g)


def _grad_worker(rank: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    x, y = _data()
    mine = slice(4 * rank, 4 * rank + 4)  # each rank: its half of the global batch
    results = {}
    for style in ("backward", "autograd.grad", "plain DDP + autograd.grad"):
        net = _net()
        trainer = Trainer({"G": net}, {}, torch.device("cpu"))
        trainer.optimizers = {"G": torch.optim.SGD(net.parameters(), lr=1.0)}
        params = list(net.parameters())
        if style == "plain DDP + autograd.grad":  # what the docs warn of: no all-reduce
            ddp = nn.parallel.DistributedDataParallel(net)
            loss = ((ddp(x[mine]) - y[mine]) ** 2).mean()
            for p, g in zip(params, torch.autograd.grad(loss, params)):
                p.grad = g
            trainer.optimizers["G"].step()
        else:
            loss = ((net(x[mine]) - y[mine]) ** 2).mean()
            if style == "backward":
                trainer.backward(loss)
            else:
                for p, g in zip(params, trainer.grads(loss, params)):
                    p.grad = g
            trainer.step("G")
        results[style] = [p.detach().clone() for p in params]
    torch.save(results, f"{out}/rank{rank}.pt")
    dist.destroy_process_group()


def test_both_gradient_styles_are_averaged_over_the_ranks(tmp_path):
    mp.spawn(_grad_worker, args=(f"file://{tmp_path}/init", str(tmp_path)), nprocs=2)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    net = _net()  # one process, the whole batch: the step the two ranks must have taken
    x, y = _data()
    ((net(x) - y) ** 2).mean().backward()
    torch.optim.SGD(net.parameters(), lr=1.0).step()
    for style in ("backward", "autograd.grad"):
        for r in range(2):
            for got, want in zip(ranks[r][style], net.parameters()):
                # the mean of two half-batch means is the full mean, up to float rounding
                assert torch.allclose(got, want, atol=1e-6), (style, r)
        assert all(torch.equal(a, b) for a, b in zip(ranks[0][style], ranks[1][style]))
    drifted = ranks[0]["plain DDP + autograd.grad"], ranks[1]["plain DDP + autograd.grad"]
    assert not all(torch.equal(a, b) for a, b in zip(*drifted))  # why Trainer.step exists


# ---------------------------------------------------------------------- shards
def test_shards_cover_each_epoch_reshuffle_and_resume_inside_an_epoch():
    ranks = [ShardedBatches(10, 4, False, seed=3, rank=r, world_size=2) for r in range(2)]
    first = [list(s) for s in ranks]
    assert [len(b) for b in first[0]] == [2, 2, 1] == [len(b) for b in first[1]]
    seen = sorted(i for shard in first for batch in shard for i in batch)
    assert seen == list(range(10))  # every image once per epoch, over the two ranks
    second = [list(s) for s in ranks]
    assert second != first  # a new permutation each epoch
    resumed = ShardedBatches(10, 4, False, seed=3, rank=1, world_size=2)
    resumed.load_state_dict(ShardedBatches(10, 4, False, 3, 1, 2).state_dict(0) | {"epoch": 1})
    assert list(resumed) == second[1]
    state = ranks[1].state_dict(0)
    inside = ShardedBatches(10, 4, False, seed=3, rank=1, world_size=2)
    inside.load_state_dict({**state, "epoch": 0, "done": 2})
    assert list(inside) == first[1][2:]


def test_a_checkpoint_resumes_only_with_the_world_size_that_wrote_it():
    sharded = ShardedBatches(10, 4, False, seed=3, rank=0, world_size=2).state_dict(1)
    with pytest.raises(UserError, match="written by a run of 2 process"):
        EpochBatches(10, 4, False, torch.Generator()).load_state_dict(sharded)
    single = EpochBatches(10, 4, False, torch.Generator()).state_dict(0)
    with pytest.raises(UserError, match="written by a run of 1 process"):
        ShardedBatches(10, 4, False, 3, 0, 2).load_state_dict(single)


# ---------------------------------------------------------------------- torchrun
# test_cyclegan_run's tiny recipe, 2 epochs, 2 images per rank per step
CYCLEGAN_OVERRIDES = ["train.epochs=2", "train.batch_size=4", "model.n_epochs_decay=1",
                      "metrics.every=2"]

DUMP = '''
import os
from safetensors.torch import save_file
from ganrun import hookimpl

ganrun_every_rank = True  # called on every rank, not only on rank 0


@hookimpl
def ganrun_run_end(run, status, error):
    state = {f"{n}.{k}": v.detach().cpu().contiguous() for n, net in run.trainer.networks.items()
             for k, v in net.state_dict().items()}
    save_file(state, f"weights_rank{os.environ['RANK']}.safetensors")
'''

KILLER = '''
import os, signal
from ganrun import hookimpl

@hookimpl
def ganrun_epoch_start(run, epoch, steps):
    if epoch == 3:  # rank 0 dies after epoch 2's checkpoint; torchrun stops rank 1
        os.kill(os.getpid(), signal.SIGKILL)
'''


def torchrun(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, **env, "PYTHONPATH": str(cwd), "OMP_NUM_THREADS": "1"}
    cmd = [str(TORCHRUN), "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), "-m", "ganrun", *args]
    return subprocess.run(cmd, cwd=cwd, env=full, capture_output=True, text=True, timeout=300)


def only_run(cwd: Path, experiment: str):
    client = MlflowClient(f"sqlite:///{cwd / 'mlruns' / 'mlflow.db'}")
    (exp,) = [e for e in client.search_experiments() if e.name == experiment]
    (run,) = client.search_runs([exp.experiment_id])  # one MLflow run: rank 0's
    return client, run


@pytest.mark.parametrize("method", ["dcgan", "cyclegan"])
def test_two_processes_train_one_run_with_identical_weights(method, tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(CYCLEGAN_TINY if method == "cyclegan" else
                      TINY.format(base=RECIPES / "quickstart.yaml", epochs=2, every=1))
    # dcgan: FID and the other torchmetrics on rank 0 at the last epoch (no cross-rank sync)
    overrides = CYCLEGAN_OVERRIDES if method == "cyclegan" else ["metrics.every=2",
                                                                  "metrics.samples=100"]
    (tmp_path / "dump.py").write_text(DUMP)
    done = torchrun(["tiny.yaml", *overrides, "--summary-json", "s.json"], tmp_path,
                    GANRUN_PLUGINS="dump")
    assert done.returncode == 0, done.stderr[-3000:]
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["status"] == "FINISHED"
    assert ("eval/fid_lenet" if method == "dcgan" else "eval/class_kept_AB") in s["metrics"]
    assert "processes: 2 (gloo); weights bit-identical on every rank" in done.stdout
    assert done.stdout.count("run FINISHED") == 1  # rank 0 alone reports
    (run_dir,) = (tmp_path / "runs" / "tiny").iterdir()  # rank 0 alone made a run folder
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "ckpt-epoch0001.pt", "ckpt-epoch0002.pt"]
    client, run = only_run(tmp_path, "tiny")
    assert run.info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "loss/gen")]
    per_epoch = 4  # dcgan: 256 images / 64; cyclegan: 16 / 4
    assert sorted(steps) == list(range(1, 2 * per_epoch + 1))  # once each, not once per rank
    a, b = (load_file(tmp_path / f"weights_rank{r}.safetensors") for r in range(2))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_killed_two_process_run_resumes_with_two(tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(TINY.format(base=RECIPES / "quickstart.yaml", epochs=4, every=1))
    (tmp_path / "killer.py").write_text(KILLER)
    killed = torchrun(["tiny.yaml"], tmp_path, GANRUN_PLUGINS="killer")
    assert killed.returncode != 0
    (run_dir,) = (tmp_path / "runs" / "tiny").iterdir()
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("*.pt")) == [
        "ckpt-epoch0001.pt", "ckpt-epoch0002.pt"]
    resumed = torchrun(["tiny.yaml", "--resume", "latest", "--summary-json", "s.json"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["status"] == "FINISHED" and Path(s["output_dir"]) == run_dir
    client, run = only_run(tmp_path, "tiny")
    assert run.info.run_id == s["run_id"] and run.info.status == "FINISHED"
    epochs = [m.step for m in client.get_metric_history(s["run_id"], "epoch/gen")]
    assert sorted(epochs) == [1, 2, 3, 4]


def test_a_global_batch_that_does_not_split_is_refused(tiny_recipe, workdir):
    env = {**os.environ, "RANK": "0", "WORLD_SIZE": "3", "LOCAL_RANK": "0"}
    done = subprocess.run([sys.executable, "-m", "ganrun", str(tiny_recipe())], cwd=workdir,
                          env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "ganrun: error: train.batch_size: 64 (the global batch) does not split evenly over "
        "3 processes")
