"""Fréchet distance between Gaussian fits of evaluator features (FID).

Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium", eq. (6) / appendix: d^2 = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)).
Here the features come from the digit evaluator (``lenet_mnist``, 128-d), not Inception-v3,
so the numbers are "FID-LeNet": comparable between runs of this project, not with papers.
Standard FID (Inception-v3 pool3 features) is :mod:`ganrun.metrics.inception`.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy import linalg
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance

from ganrun.errors import UserError
from ganrun.metrics.features import EvaluatorFeatures, module_device

__all__ = [
    "FIDLeNet",
    "frechet_distance",
    "feature_stats",
    "inception_unavailable",
    "check_inception_available",
    "INCEPTION_WEIGHTS_FILE",
    "INCEPTION_WEIGHTS_URL",
    "default_inception_path",
]

# pytorch-fid's FID Inception-v3 weights (ported from TTUR's inception-2015-12-05.tgz), the
# name it caches them under in torch.hub's checkpoints folder, and where to download them.
INCEPTION_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/"
                         f"fid_weights/{INCEPTION_WEIGHTS_FILE}")


def feature_stats(features: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (N - 1) of N x D features, in float64."""
    f = np.asarray(features.detach().cpu().numpy() if isinstance(features, torch.Tensor)
                   else features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features: expected N x D with N >= 2, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al. 2017, eq. 6).

    ``||mu1 - mu2||^2 + Tr(sigma1) + Tr(sigma2) - 2 Tr(sqrtm(sigma1 @ sigma2))`` in float64
    with ``scipy.linalg.sqrtm``, as in the reference TTUR / pytorch-fid code: when the
    product is too singular for a finite square root, ``eps`` is added to both diagonals;
    imaginary parts from rounding are dropped, and a large one (> 1e-3 on the diagonal)
    raises ``ValueError``.
    """
    mu1, mu2 = (np.atleast_1d(np.asarray(m, dtype=np.float64)) for m in (mu1, mu2))
    sigma1, sigma2 = (np.atleast_2d(np.asarray(s, dtype=np.float64)) for s in (sigma1, sigma2))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"shapes differ: mu {mu1.shape} vs {mu2.shape}, "
                         f"sigma {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():
        # dead ReLU units make the covariances singular; the finite check below handles it
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        worst = np.max(np.abs(np.diagonal(covmean).imag))
        if worst > 1e-3:
            raise ValueError(f"sqrtm(sigma1 @ sigma2) has an imaginary component {worst:.3g}")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


class FIDLeNet:
    """FID on evaluator features through torchmetrics' ``FrechetInceptionDistance``.

    The real statistics are accumulated once by :meth:`set_real` and kept
    (``reset_real_features=False``); each :meth:`score` resets only the fake ones.
    torchmetrics sums features and their outer products in float64 and takes the trace
    of the square root from ``eigvals(S_1 S_2)``; the features are handed to it as float64
    so the result stays float64 too (it casts back to the features' dtype).
    ``evaluator`` defaults to the shipped ``lenet_mnist``. Inputs are images, N x 1 x 28 x 28
    in [-1, 1] (float of any precision, or uint8 in [0, 255]), fed in chunks of ``batch``, or
    N x D features from :func:`~ganrun.metrics.features.batched_features`.
    """

    def __init__(self, evaluator: nn.Module | None = None, batch: int = 500) -> None:
        if evaluator is None:
            from ganrun.evaluators.lenet import load_lenet_mnist

            evaluator = load_lenet_mnist()
        self.evaluator = evaluator
        self.batch = batch
        self.metric = self._new_metric()
        self.num_real = 0

    def _new_metric(self) -> FrechetInceptionDistance:
        extractor = EvaluatorFeatures(self.evaluator, out_dtype=torch.float64)
        # sync_on_compute=False: ganrun evaluates in one process (rank 0 under torchrun);
        # torchmetrics would gather from every rank and wait for ranks that never evaluate
        metric = FrechetInceptionDistance(feature=extractor, reset_real_features=False,
                                          normalize=False, sync_on_compute=False)
        return metric.to(module_device(self.evaluator))

    def set_real(self, images: torch.Tensor) -> "FIDLeNet":
        """Accumulate (replacing any earlier) real statistics from ``images`` (or features)."""
        if len(images) < 2:
            raise ValueError(f"set_real: needs at least 2 images, got {len(images)}")
        self.metric = self._new_metric()
        for chunk in images.split(self.batch):
            self.metric.update(chunk, real=True)
        self.num_real = len(images)
        return self

    def score(self, fake_images: torch.Tensor) -> float:
        """FID between the cached real statistics and ``fake_images`` (or features), N >= 2."""
        if self.num_real == 0:
            raise RuntimeError("FIDLeNet.score: call set_real(images) first")
        if len(fake_images) < 2:
            raise ValueError(f"score: needs at least 2 images, got {len(fake_images)}")
        self.metric.reset()  # fake statistics only: reset_real_features=False
        for chunk in fake_images.split(self.batch):
            self.metric.update(chunk, real=False)
        return float(self.metric.compute())


def default_inception_path() -> Path:
    """Where the weights are looked for when the recipe names none: torch.hub's cache."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE


def inception_unavailable(setting: str = "metrics.fid.feature", reason: str = "") -> UserError:
    """The one-line error for standard (Inception-v3) FID whose weights cannot be had."""
    return UserError(
        f"{setting}: {reason or 'no Inception-v3 weights offline'}; standard FID "
        f"(metrics.fid.feature: inception) needs pytorch-fid's {INCEPTION_WEIGHTS_FILE}, which "
        f"ganrun does not download: fetch {INCEPTION_WEIGHTS_URL} into "
        f"{default_inception_path().parent} or set metrics.fid.weights to the file, "
        f"or use metrics.fid.feature: evaluator")


def check_inception_available(weights_path: str | os.PathLike | None,
                              setting: str = "metrics.fid.feature") -> Path:
    """Raise :func:`inception_unavailable` unless the Inception weights file exists.

    ``weights_path`` None means torch.hub's cache, where pytorch-fid keeps its download
    (``<torch.hub.get_dir()>/checkpoints/pt_inception-2015-12-05-6726825d.pth``). Only
    checks that the file is there; :func:`ganrun.metrics.inception.load_fid_inception`
    reads it. Returns the weights file's path.
    """
    path = default_inception_path() if weights_path is None else Path(weights_path).expanduser()
    if not path.is_file():
        raise inception_unavailable(setting, f"weights file {path} not found")
    return path
