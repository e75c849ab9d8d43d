"""Number of statistically Different Bins (NDB).

Richardson & Weiss 2018, "On GANs and GMMs", section 4.1: k-means on the real samples
defines K bins; each generated sample goes to its nearest centroid; per bin a
two-proportion z-test (pooled p = (n_r P_r + n_g P_g) / (n_r + n_g),
z = (P_r - P_g) / sqrt(p (1 - p) (1 / n_r + 1 / n_g))) compares the real and generated
shares, and NDB is the number of bins whose shares differ at level ``alpha``. Reported here
as NDB / K in [0, 1]; a sample from the real distribution gives about ``alpha`` (false
positives), a missing or over-produced region pushes it towards 1. The paper bins pixels
with K = 100 on larger sets; here features (128-d) with K = 20 keeps ~50 generated samples
per bin for 1,000 samples (the z-test's normal approximation wants tens per bin).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy.cluster.vq import kmeans2
from scipy.stats import norm

__all__ = ["NDB", "ndb"]


def _numpy(x: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name}: expected N x D features, got shape {a.shape}")
    return a


class NDB:
    """k-means bins fitted once on ``real_f`` (``kmeans2``, ``minit="++"``, seeded); reuse
    :meth:`score` for each generated set. After a score, ``different`` holds the per-bin
    significance mask and ``fake_proportions`` the generated shares.
    """

    def __init__(self, real_f: torch.Tensor | np.ndarray, bins: int = 20, seed: int = 0,
                 alpha: float = 0.05) -> None:
        real = _numpy(real_f, "real_f")
        if not 2 <= bins <= len(real):
            raise ValueError(f"bins: {bins} must be in [2, {len(real)}]")
        if not 0 < alpha < 1:
            raise ValueError(f"alpha: {alpha} must be in (0, 1)")
        with warnings.catch_warnings():  # an empty cluster only warns; its bin stays empty
            warnings.simplefilter("ignore", UserWarning)
            try:  # scipy >= 1.15 takes rng=; older ones only seed=
                self.centroids, assigned = kmeans2(real, bins, minit="++", rng=seed)
            except TypeError:
                self.centroids, assigned = kmeans2(real, bins, minit="++", seed=seed)
        self.bins, self.alpha, self.num_real = bins, alpha, len(real)
        self.real_proportions = np.bincount(assigned, minlength=bins) / len(real)
        self.different: np.ndarray | None = None
        self.fake_proportions: np.ndarray | None = None

    def assign(self, features: torch.Tensor | np.ndarray) -> np.ndarray:
        """Index of the nearest centroid for each row of ``features``."""
        f = _numpy(features, "features")
        return torch.cdist(torch.from_numpy(f), torch.from_numpy(self.centroids)).argmin(1).numpy()

    def score(self, fake_f: torch.Tensor | np.ndarray) -> float:
        """NDB / K: the fraction of bins whose real and generated shares differ significantly."""
        n_f = len(fake_f)
        if n_f < 1:
            raise ValueError("fake_f: no samples")
        p_g = np.bincount(self.assign(fake_f), minlength=self.bins) / n_f
        p_r, n_r = self.real_proportions, self.num_real
        pooled = (n_r * p_r + n_f * p_g) / (n_r + n_f)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n_r + 1 / n_f))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(se > 0, (p_r - p_g) / se, 0.0)
        p_values = 2 * norm.sf(np.abs(z))  # two-sided
        self.fake_proportions = p_g
        self.different = p_values < self.alpha
        return float(self.different.mean())


def ndb(real_f: torch.Tensor | np.ndarray, fake_f: torch.Tensor | np.ndarray, bins: int = 20,
        alpha: float = 0.05, seed: int = 0) -> float:
    """One-off :class:`NDB` score; fit the class once instead when scoring repeatedly."""
    return NDB(real_f, bins=bins, seed=seed, alpha=alpha).score(fake_f)
