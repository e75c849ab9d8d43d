"""k-NN precision / recall and density / coverage of generated features.

Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for Assessing Generative
Models", eq. (1)-(2): a sample lies in the other set's manifold when it is within the
k-th-nearest-neighbour radius of some member (that member's own neighbours, itself
excluded). Precision: share of fakes inside the real manifold; recall: share of reals inside
the fake manifold. Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
Generative Models", eq. (4)-(5): density = (1 / kM) sum_j sum_i 1[Y_j in B(X_i, NND_k(X_i))]
and coverage = (1 / N) sum_i 1[exists j: Y_j in B(X_i, NND_k(X_i))]. Balls are closed
(``<=``), as in the papers. Distances are Euclidean (``torch.cdist``) in float64, computed
in row chunks so the N x N real distances are never held at once.
"""
from __future__ import annotations

import torch

__all__ = ["knn_radii", "precision_recall", "density_coverage", "prdc"]

_CHUNK = 1024


def _as_features(x: torch.Tensor, name: str) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.dim() != 2:
        raise ValueError(f"{name}: expected N x D features, got shape {tuple(x.shape)}")
    return x.double()


def knn_radii(features: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row (self excluded): float64 N."""
    f = _as_features(features, "features")
    if not 1 <= k < len(f):
        raise ValueError(f"k: {k} must be in [1, {len(f) - 1}] for {len(f)} samples")
    # the k+1 smallest include the point itself at distance 0 (a duplicate may take its
    # place, also at 0), so the (k+1)-th is the k-th neighbour
    return torch.cat([torch.cdist(c, f).topk(k + 1, dim=1, largest=False).values[:, k]
                      for c in f.split(_CHUNK)])


def _inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor):
    """Per point: how many balls B(centre, radius) hold it; per centre: whether any point is in."""
    counts = torch.zeros(len(points), dtype=torch.long, device=points.device)
    hit = torch.zeros(len(centres), dtype=torch.bool, device=points.device)
    for start in range(0, len(centres), _CHUNK):
        c, r = centres[start:start + _CHUNK], radii[start:start + _CHUNK]
        within = torch.cdist(c, points) <= r[:, None]  # centres x points
        counts += within.sum(0)
        hit[start:start + _CHUNK] = within.any(1)
    return counts, hit


def precision_recall(real_f: torch.Tensor, fake_f: torch.Tensor, k: int = 3,
                     real_radii: torch.Tensor | None = None) -> tuple[float, float]:
    """(precision, recall) of Kynkäänniemi et al. 2019, eq. (1)-(2), with k-NN radii (k=3).

    ``real_radii``: ``knn_radii(real_f, k)`` computed once for a fixed real set.
    """
    real, fake = _as_features(real_f, "real_f"), _as_features(fake_f, "fake_f")
    in_real, _ = _inside(fake, real, knn_radii(real, k) if real_radii is None else real_radii)
    in_fake, _ = _inside(real, fake, knn_radii(fake, k))
    return float((in_real > 0).double().mean()), float((in_fake > 0).double().mean())


def density_coverage(real_f: torch.Tensor, fake_f: torch.Tensor, k: int = 5,
                     real_radii: torch.Tensor | None = None) -> tuple[float, float]:
    """(density, coverage) of Naeem et al. 2020, eq. (4)-(5), with real k-NN radii (k=5).

    Density can exceed 1 (fakes crowded where reals are dense); coverage lies in [0, 1].
    ``real_radii``: ``knn_radii(real_f, k)`` computed once for a fixed real set.
    """
    real, fake = _as_features(real_f, "real_f"), _as_features(fake_f, "fake_f")
    counts, covered = _inside(fake, real, knn_radii(real, k) if real_radii is None else real_radii)
    return float(counts.double().sum() / (k * len(fake))), float(covered.double().mean())


def prdc(real_f: torch.Tensor, fake_f: torch.Tensor, real_radii3: torch.Tensor,
         real_radii5: torch.Tensor) -> dict[str, float]:
    """All four at once from one real x fake distance matrix: precision and recall with k=3,
    density and coverage with k=5 (``real_radii*``: ``knn_radii(real_f, k)``, kept for a
    fixed real set). The same values as :func:`precision_recall` and
    :func:`density_coverage`, with one ``cdist`` of the two sets instead of three."""
    real, fake = _as_features(real_f, "real_f"), _as_features(fake_f, "fake_f")
    fake_radii3 = knn_radii(fake, 3)
    in_real = torch.zeros(len(fake), dtype=torch.bool)
    density = torch.zeros((), dtype=torch.float64)
    in_fake = torch.zeros(len(real), dtype=torch.bool)
    covered = torch.zeros(len(real), dtype=torch.bool)
    for start in range(0, len(real), _CHUNK):
        d = torch.cdist(real[start:start + _CHUNK], fake)  # reals x fakes
        r3, r5 = real_radii3[start:start + _CHUNK, None], real_radii5[start:start + _CHUNK, None]
        in_real |= (d <= r3).any(0)
        within5 = d <= r5
        density += within5.sum()
        covered[start:start + _CHUNK] = within5.any(1)
        in_fake[start:start + _CHUNK] = (d <= fake_radii3[None, :]).any(1)
    return {"precision": float(in_real.double().mean()), "recall": float(in_fake.double().mean()),
            "density": float(density / (5 * len(fake))), "coverage": float(covered.double().mean())}
