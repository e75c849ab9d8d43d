"""The recipe's structured schema: the sections every recipe has.

The ``model`` section's schema comes from the method (``MethodInfo.model_schema``) and the
``data`` section's from the dataset (``DatasetInfo.schema``). Each field's limits and
one-line doc are field metadata written with :func:`ganrun.limits.limit`, enforced by
:func:`ganrun.recipe.check_limits` and printed by :mod:`ganrun.recipe_reference`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional

from ganrun.health.config import HealthConfig
from ganrun.limits import limit

__all__ = ["limit", "DataConfig", "TrainConfig", "TrackConfig", "MetricsConfig", "FIDConfig",
           "HealthConfig", "OutputConfig", "RecipeSchema"]


@dataclass
class DataConfig:
    """Base of every dataset's schema."""

    name: str = limit("mnist5k", doc="the dataset: one a plugin registers (`ganrun plugins`)")


@dataclass
class TrainConfig:
    """``train``: the loop, checkpoints, threads, devices and precision."""

    epochs: int = limit(50, ge=1, doc="passes over the training set")
    batch_size: int = limit(256, ge=1, doc="the global batch: under torchrun, split over the ranks")
    seed: int = limit(0, ge=0, doc="seeds the networks' initialisation, the data order and noise")
    device: str = limit("cpu", doc="cpu, cuda, cuda:N, or auto")
    checkpoint_every: int = limit(15, ge=0, doc="epochs; 0: only at the end")
    checkpoint_every_steps: int = limit(0, ge=0, doc="also inside epochs, every N steps; 0: no")
    checkpoint_every_minutes: float = limit(30.0, ge=0.0, doc="and after N minutes; 0: no")
    keep_checkpoints: int = limit(
        0, ge=0, doc="the newest N, pruned once a new one is on disk; 0: all")
    drop_last: bool = limit(False, doc="drop each epoch's last batch when it is smaller")
    threads: int = limit(0, ge=0, doc="torch CPU threads; 0 leaves torch's default")
    log_every: int = limit(1, ge=1, doc="steps between logged step losses")
    precision: str = limit(
        "fp32", choices=("fp32", "bf16", "fp16", "auto"),
        doc="fp32, or automatic mixed precision: bf16 (CUDA; CPUs with AVX512-BF16 or AMX), "
            "fp16 (with a gradient scaler); auto: bf16 where native and the method's quality "
            "holds in it")
    channels_last: bool = limit(False, doc="NHWC memory format for networks and image batches")
    compile: bool = limit(False, doc="torch.compile every network (slow first steps, then faster)")
    sync_batchnorm: bool = limit(
        False, doc="under torchrun on CUDA: BatchNorm statistics over all ranks")


@dataclass
class TrackConfig:
    """``track``: where and how MLflow records the run."""

    enabled: bool = limit(True, doc="false: no MLflow run (the run folder is still written)")
    uri: Optional[str] = limit(
        None, doc="the MLflow store or server; null: sqlite:///CWD/mlruns/mlflow.db")
    experiment: Optional[str] = limit(None, doc="null: the recipe's name")
    run_name: Optional[str] = limit(
        None, doc="null: RECIPE-FOLDER, the recipe's name and the run folder's (its start time)")
    register_model: bool = limit(True, doc="register the final generator in the Model Registry")


@dataclass
class FIDConfig:
    """``metrics.fid``: which features FID is measured in."""

    feature: str = limit(
        "evaluator", choices=("evaluator", "inception"),
        doc="evaluator: eval/fid_lenet only (metrics.evaluator's features); inception: also "
            "standard FID, eval/fid (pytorch-fid's Inception-v3 pool3 features; needs its "
            "weights file)")
    weights: Optional[str] = limit(
        None, doc="Inception weights .pth; null: torch.hub's checkpoints cache")


@dataclass
class MetricsConfig:
    """``metrics``: how often and how samples are measured while training."""

    every: int = limit(5, ge=0, doc="epochs between evaluations (and the last epoch); 0: none")
    evaluator: Optional[str] = limit(
        None, doc="a registered evaluator, e.g. lenet_mnist; null: none")
    samples: int = limit(1000, ge=10, doc="generated samples per evaluation (split over classes)")
    names: List[str] = limit([], doc="registered metrics; empty: all")

    def due(self, epoch: int, last: int) -> bool:
        """Whether epoch ``epoch`` (of ``last``) is evaluated: every ``every``-th and the last."""
        return bool(self.every) and (epoch % self.every == 0 or epoch == last)
    fid: FIDConfig = field(default_factory=FIDConfig)


@dataclass
class OutputConfig:
    """``output``: where run folders go."""

    dir: str = limit("runs", doc="each run writes DIR/RECIPE_NAME/TIMESTAMP/")


@dataclass
class RecipeSchema:
    """A whole recipe: the core sections, the method's ``model`` and the dataset's ``data``."""

    method: str = limit("???", doc="the training method: one a plugin registers")
    name: str = limit("", doc="the recipe's name; empty: the recipe file's stem")
    data: Any = limit(None, doc="the dataset's section; data.name selects its schema")
    model: Any = limit(None, doc="the method's section; method selects its schema")
    train: TrainConfig = field(default_factory=TrainConfig)
    track: TrackConfig = field(default_factory=TrackConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
