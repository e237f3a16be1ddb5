"""95% intervals for the similarity measures (stitchkit.measures.similarity) over the
images they read: the delete-a-group jackknife (Efron and Tibshirani, 1993, Sec. 11.5).

The n images are split into ``groups`` disjoint, seeded groups; the measure is
recomputed without each group in turn, and its variance estimated as
(G - 1) / G x the sum of squared deviations of those G values from their mean; the
interval is a t interval on G - 1 degrees of freedom around the measure on all images.

Not the percentile bootstrap of the stitching results: a resample draws images with
replacement, and no measure here reads a duplicated image as a new one. It is its own
nearest neighbour (mutual k-NN) and a zero dissimilarity (RSA); CCA fits a repeated row
exactly; debiased CKA's estimator assumes distinct pairs; and biased CKA grows as the
distinct images fall to about 63% of n, so that its resamples sit above its value (on
200 images of two untrained networks, RBF CKA 0.713 had the bootstrap interval
[0.715, 0.768]). Leaving images out keeps every image distinct.

Measures whose value a rotation of the feature space leaves unchanged are computed on
``reduced`` features: X V for X = U S V' (n x min(n, d)), the same inner products, so
the same value, at a fraction of the cost when d > n.
"""

from collections.abc import Callable

import numpy as np
import torch
from scipy.stats import t as student_t

from stitchkit.measures.bootstrap import Interval

# measures that read only inner products between images (so any isometric basis of the
# features will do); RSA centres each image over its features and PWCCA weighs in the
# feature basis, so they read the features as they are
ROTATION_INVARIANT = frozenset(
    {"cka", "cka_debiased", "rbf_cka", "cca", "svcca", "procrustes", "mutual_knn"}
)


def flat(features: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Features (n, ...) as float64 rows (n, d)."""
    if isinstance(features, torch.Tensor):
        return features.reshape(len(features), -1).double()
    rows = np.asarray(features, dtype=np.float64)  # a copy: memory maps are read-only
    return torch.from_numpy(rows.reshape(len(rows), -1))


def reduced(x: torch.Tensor) -> torch.Tensor:
    """Rows ``x`` (n, d) in an orthonormal basis of their span: (n, min(n, d)), with the
    same inner products (and so distances and every rotation-invariant measure)."""
    if x.shape[1] <= x.shape[0]:
        return x
    u, s, _ = torch.linalg.svd(x, full_matrices=False)
    return u * s


def jackknife_groups(n: int, groups: int, seed: int) -> list[np.ndarray]:
    """``groups`` disjoint sets of indices of n images, of near-equal sizes, drawn with
    ``seed``."""
    if not 2 <= groups <= n:
        raise ValueError(f"the jackknife needs 2 to n = {n} groups, got {groups}")
    order = np.random.default_rng(seed).permutation(n)
    return np.array_split(order, groups)


def jackknife_interval(
    fn: Callable[[torch.Tensor, torch.Tensor], float],
    x: torch.Tensor,
    y: torch.Tensor,
    groups: list[np.ndarray],
    confidence: float = 0.95,
) -> Interval:
    """``fn(x, y)`` on all n rows and the delete-a-group jackknife t interval around it."""
    n = len(x)
    value = fn(x, y)
    keep = np.ones(n, dtype=bool)
    leave_outs = []
    for group in groups:
        keep[group] = False
        index = torch.as_tensor(np.flatnonzero(keep), device=x.device)
        leave_outs.append(fn(x[index], y[index]))
        keep[group] = True
    values = np.asarray(leave_outs)
    g = len(values)
    spread = np.sqrt((g - 1) / g * np.sum((values - values.mean()) ** 2))
    half = float(student_t.ppf(1 - (1 - confidence) / 2, g - 1) * spread)
    return Interval(float(value), float(value) - half, float(value) + half, n)
