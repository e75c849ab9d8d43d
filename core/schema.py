"""The recipe's structured schema: the sections every recipe has.

The ``model`` section's schema comes from the method (``MethodInfo.model_schema``) and the
``data`` section's from the dataset (``DatasetInfo.schema``). Range and choice limits are
written as field metadata (``ge``, ``gt``, ``le``, ``choices``) and checked by
:func:`ganrun.recipe.check_limits`.
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

    name: str = "mnist5k"


@dataclass
class TrainConfig:
    epochs: int = limit(50, ge=1)
    batch_size: int = limit(256, ge=1)  # the global batch: under torchrun, split over the ranks
    seed: int = limit(0, ge=0)
    device: str = "cpu"  # cpu, cuda, cuda:N, or auto
    checkpoint_every: int = limit(15, ge=0)  # epochs; 0: only at the end
    checkpoint_every_steps: int = limit(0, ge=0)  # also inside epochs, every N steps; 0: no
    checkpoint_every_minutes: float = limit(30.0, ge=0.0)  # and after N minutes; 0: no
    keep_checkpoints: int = limit(0, ge=0)  # the newest N, pruned once a new one is on disk; 0: all
    drop_last: bool = False
    threads: int = limit(0, ge=0)  # torch CPU threads; 0 leaves torch's default
    log_every: int = limit(1, ge=1)  # steps between logged step losses
    # fp32, or automatic mixed precision: bf16 (CUDA; CPUs with AVX512-BF16 or AMX), fp16
    # (with a gradient scaler); auto: bf16 where native and the method's quality holds in it
    precision: str = limit("fp32", choices=("fp32", "bf16", "fp16", "auto"))
    channels_last: bool = False  # NHWC memory format for networks and image batches
    compile: bool = False  # torch.compile every network (slow first steps, then faster)
    sync_batchnorm: bool = False  # under torchrun on CUDA: BatchNorm statistics over all ranks


@dataclass
class TrackConfig:
    enabled: bool = True
    uri: Optional[str] = None  # None: sqlite:///<cwd>/mlruns/mlflow.db
    experiment: Optional[str] = None  # None: the recipe's name
    run_name: Optional[str] = None
    register_model: bool = True  # register the final generator in the Model Registry


@dataclass
class FIDConfig:
    # evaluator: eval/fid_lenet only (metrics.evaluator's features); inception: also standard
    # FID, eval/fid (pytorch-fid's Inception-v3 pool3 features; needs its weights file)
    feature: str = limit("evaluator", choices=("evaluator", "inception"))
    weights: Optional[str] = None  # Inception weights .pth; None: torch.hub's checkpoints cache


@dataclass
class MetricsConfig:
    every: int = limit(5, ge=0)  # epochs between evaluations (and the last epoch); 0: none
    evaluator: Optional[str] = None  # a registered evaluator, e.g. lenet_mnist; None: none
    samples: int = limit(1000, ge=10)  # generated samples per evaluation (split over classes)
    names: List[str] = field(default_factory=list)  # registered metrics; empty: all

    def due(self, epoch: int, last: int) -> bool:
        """Whether epoch ``epoch`` (of ``last``) is evaluated: every ``every``-th and the last."""
        return bool(self.every) and (epoch % self.every == 0 or epoch == last)
    fid: FIDConfig = field(default_factory=FIDConfig)


@dataclass
class OutputConfig:
    dir: str = "runs"


@dataclass
class RecipeSchema:
    method: str = "???"
    name: str = ""  # defaults to the recipe file's stem
    data: Any = None
    model: Any = None
    train: TrainConfig = field(default_factory=TrainConfig)
    track: TrackConfig = field(default_factory=TrackConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
