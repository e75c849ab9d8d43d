"""The loop: recipe in, networks from the role hooks, epochs of ``train_step``, hooks out.

The engine knows no method, tracker or file format by name. Grids, checkpoints, progress
bars and tracking are lifecycle plugins; a method only writes ``train_step``. The run's
state (:meth:`Run.state_dict`) is whole at every step boundary: the trainer, every RNG,
the position inside the epoch, and the state each plugin keeps, so a checkpoint taken
after any step resumes exactly.

Under torchrun every rank runs this loop on its shard of each batch (core/distributed.py);
the lifecycle hooks run on rank 0 (:func:`ganrun.plugins.lifecycle_hooks`), and the ranks
agree after each step on its losses and on whether to stop.
"""
from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ganrun import distributed
from ganrun.checkpoint import CHECKPOINT_DIR, resume_point, rng_state, set_rng_state
from ganrun.device import check_train_options, move_batch, prepare_network, resolve_device
from ganrun.distributed import SINGLE, Ranks
from ganrun.errors import PluginError, UserError
from ganrun.host_memory import keep_freed_memory
from ganrun.plugins import lifecycle_hooks
from ganrun.precision import Precision, check_precision, resolve_precision
from ganrun.recipe import to_yaml
from ganrun.registry import Registry
from ganrun.runs import RECIPE_FILE, RUN_INFO, read_info
from ganrun.sampler import EpochBatches, ShardedBatches
from ganrun.signals import signal_name, stop_on_signals
from ganrun.trainer import Trainer


@dataclass
class EpochReport:
    """What an epoch produced; lifecycle plugins may add metrics and files to it."""

    epoch: int
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    """One training run as the lifecycle plugins see it."""

    recipe: Any
    recipe_yaml: str
    output_dir: Path
    trainer: Trainer
    hook: Any  # the plugin manager's hook relay, for plugins that call further hooks
    registry: Registry  # registered methods, datasets, evaluators
    sampler: EpochBatches | ShardedBatches  # the epochs' batch order, resumable inside an epoch
    loader: Any  # iterable of batches (dicts of tensors)
    steps_per_epoch: int
    id: str | None = None
    epoch: int = 0  # epochs completed
    step: int = 0  # steps completed
    batch: int = 0  # batches done in the epoch in progress
    epoch_sums: dict[str, float] = field(default_factory=dict)  # its losses so far, summed
    epoch_counts: dict[str, int] = field(default_factory=dict)  # steps that sent each loss
    signal: int | None = None  # SIGTERM or SIGINT received: the run stops after this step
    plugin_state: dict[str, Any] = field(default_factory=dict)  # from a checkpoint, for run start
    resumed: bool = False
    status: str = "RUNNING"
    metrics: dict[str, float] = field(default_factory=dict)  # the last epoch's metrics
    summary: dict[str, str] = field(default_factory=dict)  # lines the CLI prints at the end
    tags: dict[str, str] = field(default_factory=dict)  # run tags a tracker records
    plugin_versions: dict[str, str] = field(default_factory=dict)  # plugin -> "dist version"
    recipe_file: str | None = None  # the recipe file the run was started from, as given
    generator_path: str | None = None
    stop_reason: str | None = None
    exit_code: int = 0
    ranks: Ranks = SINGLE  # this process's rank among torchrun's processes

    @property
    def is_main(self) -> bool:
        """Rank 0 (or the only process): the one that writes files and tracks."""
        return self.ranks.is_main

    def request_stop(self, reason: str, status: str = "FAILED", exit_code: int = 3) -> None:
        """Ask the engine to end the run after the current step (health monitors)."""
        self.stop_reason, self.status, self.exit_code = reason, status, exit_code

    def state_dict(self) -> dict[str, Any]:
        """The whole state needed to continue this run exactly: what a checkpoint holds.
        Taken at a step boundary, inside an epoch or at its end."""
        plugins: dict[str, Any] = {}
        for part in self.hook.ganrun_save_state(run=self):
            plugins.update(part or {})
        return {
            "epoch": self.epoch,
            "step": self.step,
            "batch": self.batch,
            "epoch_sums": dict(self.epoch_sums),
            "epoch_counts": dict(self.epoch_counts),
            "run_id": self.id,
            "trainer": self.trainer.state_dict(),
            "rng": rng_state(),
            "data": self.sampler.state_dict(self.batch),
            "plugins": plugins,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.batch = int(state.get("batch", 0))
        self.epoch_sums = dict(state.get("epoch_sums", {}))
        # written before the counts were kept: every signal counted as sent every step
        self.epoch_counts = dict(state.get("epoch_counts", dict.fromkeys(self.epoch_sums,
                                                                        self.batch)))
        self.trainer.load_state_dict(state["trainer"])
        set_rng_state(state["rng"])
        if "data" in state:
            self.sampler.load_state_dict(state["data"])
        else:  # written before step checkpoints: always at an epoch's end
            self.sampler.generator.set_state(state["data_rng"])
        self.plugin_state = dict(state.get("plugins", {}))

    def write_info(self) -> None:
        if not self.is_main:
            return
        info = {"id": self.id, "status": self.status, "name": self.recipe.name,
                "experiment": self.recipe.track.experiment or self.recipe.name,
                "epoch": self.epoch, "epochs": self.recipe.train.epochs}
        (self.output_dir / RUN_INFO).write_text(json.dumps(info, indent=2))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def seed_rank(seed: int, ranks: Ranks, step: int) -> None:
    """Ranks other than 0 draw their own noise, dropout masks and pool choices: seeded from
    the run's seed, the rank and the step (rank 0 keeps the stream a checkpoint restores)."""
    if ranks.rank:
        seed_everything((seed * 1_000_003 + ranks.rank * 7919 + step) % 2**31)


def build_trainer(recipe: Any, pm: Any, registry: Registry, device: torch.device) -> Trainer:
    """Ask the role hooks for every network of the method, its losses and its trainer."""
    info = registry.method(recipe.method)
    hook = pm.hook

    def ask(role: str, **kwargs: Any) -> Any:
        result = getattr(hook, f"ganrun_make_{role}")(recipe=recipe, **kwargs)
        if result is None:
            raise PluginError(f"no plugin answers ganrun_make_{role} for method '{recipe.method}'")
        return result

    nets: dict[str, dict[str, nn.Module]] = {}
    for role, names in (("generator", info.generators), ("discriminator", info.discriminators)):
        nets[role] = {}
        for name in names:
            net = ask(role, name=name)
            if not isinstance(net, nn.Module):
                raise PluginError(f"ganrun_make_{role}(name='{name}') for '{recipe.method}' "
                                  f"returned {type(net).__name__}, not a torch.nn.Module")
            nets[role][name] = prepare_network(net, recipe.train, device)
    losses = ask("losses")
    trainer = ask("trainer", generators=nets["generator"], discriminators=nets["discriminator"],
                  losses=losses, device=device)
    if not isinstance(trainer, Trainer):
        raise PluginError(f"ganrun_make_trainer for '{recipe.method}' returned "
                          f"{type(trainer).__name__}, not a ganrun.trainer.Trainer")
    return trainer


def make_loader(dataset: Any, sampler: EpochBatches) -> DataLoader:
    # A DataLoader draws a worker seed as each epoch starts, from its ``generator`` or else
    # from torch's global RNG; a throwaway one keeps that draw out of the run's streams (a
    # run resumed inside an epoch starts that epoch's iterator a second time).
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=getattr(dataset, "collate", None),
                      generator=torch.Generator().manual_seed(0))


def new_run_dir(recipe: Any) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(recipe.output.dir) / recipe.name / f"{stamp}-{uuid.uuid4().hex[:6]}"
    path.mkdir(parents=True, exist_ok=False)
    return path.resolve()


def prepare(recipe: Any, pm: Any, registry: Registry, resume_dir: str | Path | None = None,
            recipe_file: str | Path | None = None) -> Run:
    """Build everything a run needs; on resume, load the latest checkpoint of ``resume_dir``.
    ``recipe_file``: the file the recipe came from, which the run's tags record."""
    train = recipe.train
    keep_freed_memory()
    if train.threads:
        torch.set_num_threads(train.threads)
    ranks = distributed.from_env()
    device = resolve_device(train.device, ranks)
    check_train_options(train, device)
    if train.batch_size % ranks.world_size:
        raise UserError(f"train.batch_size: {train.batch_size} (the global batch) does not "
                        f"split evenly over {ranks.world_size} processes")
    check_precision(train.precision, device)
    pm.hook.ganrun_check_run(recipe=recipe)
    seed_everything(train.seed)
    dataset = registry.dataset(recipe.data.name).load(recipe.data, "train")
    if len(dataset) == 0:
        raise UserError(f"data.name: dataset '{recipe.data.name}' is empty")
    if train.batch_size > len(dataset):  # before any network or batch is allocated
        raise UserError(f"train.batch_size: {train.batch_size} is larger than the "
                        f"training set ({len(dataset)} images of '{recipe.data.name}')")
    distributed.start(ranks, device)
    trainer = build_trainer(recipe, pm, registry, device)
    precision, why = resolve_precision(train.precision, device, type(trainer).auto_bf16)
    trainer.precision = Precision(precision, device)
    distributed.broadcast_state(trainer.networks.values())  # rank 0's initial weights
    sampler: EpochBatches | ShardedBatches
    if ranks.active:
        sampler = ShardedBatches(len(dataset), train.batch_size, train.drop_last, train.seed,
                                 ranks.rank, ranks.world_size)
    else:
        sampler = EpochBatches(len(dataset), train.batch_size, train.drop_last,
                               torch.Generator().manual_seed(train.seed))
    loader = make_loader(dataset, sampler)
    trainer.prepare(len(loader), train.epochs)
    if resume_dir:
        out = Path(resume_dir).resolve()
    else:  # rank 0 names the run folder
        out = distributed.broadcast_object(new_run_dir(recipe) if ranks.is_main else None)
    run = Run(recipe=recipe, recipe_yaml=to_yaml(recipe), output_dir=out, trainer=trainer,
              hook=lifecycle_hooks(pm, ranks.is_main), registry=registry, sampler=sampler,
              loader=loader, steps_per_epoch=len(loader), ranks=ranks,
              plugin_versions={r.name: f"{r.distribution} {r.version}"
                               for r in getattr(pm, "records", [])},
              recipe_file=None if recipe_file is None else str(recipe_file))
    if resume_dir:
        run.id = read_info(out).get("id")
        found = resume_point(out / CHECKPOINT_DIR)
        if found is not None:
            run.load_state_dict(found[1])
        run.resumed = True
    if train.precision == "auto":
        run.summary["precision"] = f"{precision} ({why})"
    seed_rank(train.seed, ranks, run.step)
    if ranks.is_main:
        (out / RECIPE_FILE).write_text(run.recipe_yaml)
    return run


def execute(run: Run) -> Run:
    """Train ``run`` to its last epoch, calling the lifecycle hooks; always ends the run."""
    hook, trainer, recipe = run.hook, run.trainer, run.recipe
    device = trainer.device
    error: BaseException | None = None
    run.status = "RUNNING"
    run.write_info()
    try:
        with stop_on_signals(run):
            state = rng_state()  # plugins set up (build evaluators, ...) without moving the
            hook.ganrun_run_start(run=run)  # training's RNGs: a resumed run continues the
            hook.ganrun_load_state(run=run, state=run.plugin_state)  # stream its checkpoint
            set_rng_state(state)  # saved, as an uninterrupted one does
            run.id = run.id or uuid.uuid4().hex
            run.write_info()
            for epoch in range(run.epoch + 1, recipe.train.epochs + 1):
                if train_epoch(run, epoch, device):
                    break
            else:
                run.status = "FINISHED"
            if run.status == "FINISHED":
                hook.ganrun_export(run=run)
    except KeyboardInterrupt as e:
        run.status, error = "KILLED", e
    except Exception as e:
        run.status, error = "FAILED", e
    finally:
        hook.ganrun_run_end(run=run, status=run.status, error=error)
        run.write_info()
    if error is not None:
        raise error
    return run


def train_epoch(run: Run, epoch: int, device: torch.device) -> bool:
    """One epoch; returns True when a plugin asked the run to stop."""
    hook, trainer = run.hook, run.trainer
    trainer.train(True)
    hook.ganrun_epoch_start(run=run, epoch=epoch, steps=run.steps_per_epoch)
    sums = run.epoch_sums  # a run resumed inside this epoch carries its first steps' sums
    counts = run.epoch_counts  # a signal a method sends on some steps is averaged over those
    started = time.perf_counter()
    channels_last = run.recipe.train.channels_last
    for batch in run.loader:  # from the batch after ``run.batch`` on a resume
        batch = move_batch(batch, device, channels_last)
        with trainer.precision.autocast():
            out = trainer.train_step(batch)
        trainer.end_step()
        losses = {k: float(v) for k, v in out.items()}
        run.step += 1
        run.batch += 1
        if run.ranks.active:  # the global batch's losses; a signal to one rank stops all
            losses, run.signal = distributed.agree_on_step(losses, run.signal, device)
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + v
            counts[k] = counts.get(k, 0) + 1
        if run.signal is not None:  # the plugins (a checkpoint among them) see the stop
            run.request_stop(f"{signal_name(run.signal)} received", "KILLED", 128 + run.signal)
        hook.ganrun_step_end(run=run, losses=losses)
        if agree_on_stop(run, device):
            return True
    trainer.end_epoch(epoch)
    if run.ranks.active:  # rank 0's BatchNorm statistics everywhere; equal weights checked
        distributed.broadcast_state(trainer.networks.values(), buffers_only=True)
        distributed.check_identical(trainer.networks.values())
        run.summary["processes"] = (f"{run.ranks.world_size} ({torch.distributed.get_backend()}); "
                                    f"weights bit-identical on every rank at epoch {epoch}")
    run.epoch, run.batch, run.epoch_sums, run.epoch_counts = epoch, 0, {}, {}
    report = EpochReport(epoch, {f"epoch/{k}": v / max(1, counts.get(k, 0))
                                 for k, v in sums.items()})
    report.metrics["time/epoch_seconds"] = time.perf_counter() - started
    hook.ganrun_epoch_end(run=run, report=report)
    run.metrics = dict(report.metrics)
    run.write_info()
    return agree_on_stop(run, device)


def agree_on_stop(run: Run, device: torch.device) -> bool:
    """Whether the run stops here; under torchrun, on every rank when one asks (rank 0's
    health alarm, a failure, a signal), with that rank's status and exit code."""
    if not run.ranks.active:
        return bool(run.stop_reason)
    mine = (run.status, run.exit_code) if run.stop_reason else None
    first = distributed.agree_on_stop(mine, device)
    if first is None:
        return False
    rank, status, code = first
    if not run.stop_reason:
        run.request_stop(f"rank {rank} stopped the run", status, code)
    return True
