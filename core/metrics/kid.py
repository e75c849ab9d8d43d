"""Kernel Inception Distance on evaluator features.

Bińkowski et al. 2018, "Demystifying MMD GANs", eq. (3)/(4) and section 4: the unbiased
squared MMD with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over
random subsets (mean, std). Computed by torchmetrics' ``KernelInceptionDistance`` with the
evaluator as its custom ``feature``; unlike FID it is unbiased, so real vs real is ~0
(and can be slightly negative).
"""
from __future__ import annotations

import warnings

import torch
from torch import nn
from torchmetrics.image.kid import KernelInceptionDistance

from ganrun.metrics.features import EvaluatorFeatures, module_device

__all__ = ["KIDLeNet", "kid_score"]


class KIDLeNet:
    """KID against real images or features kept once (``reset_real_features=False``).

    ``subset_size`` None takes ``min(n_real, n_fake, 100)`` at each :meth:`score`;
    ``subsets`` random subsets are drawn from torch's generator seeded with ``seed``
    (the caller's RNG state is left as it was). Features are float64.
    """

    def __init__(self, evaluator: nn.Module | None = None, subsets: int = 100,
                 subset_size: int | None = None, seed: int = 0, batch: int = 500) -> None:
        if evaluator is None:
            from ganrun.evaluators.lenet import load_lenet_mnist

            evaluator = load_lenet_mnist()
        self.evaluator = evaluator
        self.subsets = subsets
        self.subset_size = subset_size
        self.seed = seed
        self.batch = batch
        self.metric = self._new_metric(1)
        self.num_real = 0

    def _new_metric(self, subset_size: int) -> KernelInceptionDistance:
        with warnings.catch_warnings():  # "will save all extracted features in buffer"
            warnings.simplefilter("ignore", UserWarning)
            metric = KernelInceptionDistance(
                feature=EvaluatorFeatures(self.evaluator, out_dtype=torch.float64),
                subsets=self.subsets, subset_size=subset_size, reset_real_features=False,
                normalize=False, sync_on_compute=False)  # one process evaluates (fid.py)
        return metric.to(module_device(self.evaluator))

    def set_real(self, real: torch.Tensor) -> "KIDLeNet":
        """Keep the features of ``real`` (images, or N x D features), replacing earlier ones."""
        if len(real) < 2:
            raise ValueError(f"set_real: needs at least 2 samples, got {len(real)}")
        self.metric = self._new_metric(1)
        for chunk in real.split(self.batch):
            self.metric.update(chunk, real=True)
        self.num_real = len(real)
        return self

    def score(self, fake: torch.Tensor) -> tuple[float, float]:
        """(mean, std) of KID over the subsets, between the kept real set and ``fake``."""
        if self.num_real == 0:
            raise RuntimeError("KIDLeNet.score: call set_real(...) first")
        if len(fake) < 2:
            raise ValueError(f"score: needs at least 2 samples, got {len(fake)}")
        self.metric.reset()  # fake features only
        self.metric.subset_size = self.subset_size or min(self.num_real, len(fake), 100)
        for chunk in fake.split(self.batch):
            self.metric.update(chunk, real=False)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            mean, std = self.metric.compute()
        return float(mean), float(std)


def kid_score(real: torch.Tensor, fake: torch.Tensor, evaluator: nn.Module | None = None,
              subsets: int = 100, subset_size: int | None = None, seed: int = 0,
              batch: int = 500) -> tuple[float, float]:
    """KID (mean, std) between ``real`` and ``fake``: each images or N x D evaluator features.

    ``subset_size`` defaults to ``min(n_real, n_fake, 100)``; ``evaluator`` to ``lenet_mnist``
    (loaded only when needed, i.e. when either input is images).
    """
    if evaluator is None and real.dim() == 2 and fake.dim() == 2:
        evaluator = _FeatureDims(real.shape[1])
    kid = KIDLeNet(evaluator, subsets=subsets, subset_size=subset_size, seed=seed, batch=batch)
    return kid.set_real(real).score(fake)


class _FeatureDims(nn.Module):
    """A stand-in evaluator for feature-only input: it has a width and no network."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise ValueError("kid_score: images given but no evaluator to turn them into features")
