"""Representational similarity measures beside stitching: a registry (MEASURES) of
functions of two representations of the same n inputs, in torch (on the inputs' device).

Each takes ``x`` (n, ...) and ``y`` (n, ...), flattened to (n, d_x) and (n, d_y), and
returns a float. The registry says for each whether a higher value means more alike
and the value two independent representations tend to (``null``, for a reader of a
table; for CCA-type measures and biased CKA it rises with d / n):

- ``cka``, ``cka_debiased``: linear CKA (Kornblith et al., 2019; debiased: Nguyen et
  al., 2021), stitchkit.measures.cka;
- ``rbf_cka``: CKA with Gaussian kernels of bandwidth 0.8 x the median distance;
- ``cca``: the mean canonical correlation; ``svcca`` (Raghu et al., 2017): CCA after
  keeping each side's top singular directions that explain 99% of its variance;
  ``pwcca`` (Morcos et al., 2018): canonical correlations weighted by how much of
  ``x`` each canonical variate accounts for;
- ``procrustes``: the orthogonal Procrustes distance of the centred, unit-norm
  representations, 2 - 2 ||x^T y||_* (Ding et al., 2021), 0 when one is a rotation of
  the other;
- ``rsa``: Spearman's correlation of the two representational dissimilarity matrices
  (1 - Pearson correlation between inputs), over pairs of inputs;
- ``mutual_knn``: the mean share of each input's k nearest neighbours (cosine) that both
  sides share (Huh et al., 2024), k = MUTUAL_K.

CCA-type measures need more inputs than both sides' dimensions together (after the rank
cut; else the two spaces must share directions, of correlation 1); they raise a
ValueError otherwise.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from scipy.stats import spearmanr

from stitchkit.measures.cka import linear_cka

SVCCA_VARIANCE = 0.99  # the share of variance SVCCA keeps on each side
RBF_BANDWIDTH = 0.8  # x the median distance between inputs (Kornblith et al., 2019)
MUTUAL_K = 10
RANK_TOLERANCE = 1e-10  # singular values below this x the largest count as zero


def _flat(features: torch.Tensor) -> torch.Tensor:
    return features.reshape(len(features), -1).double()


def _centred(features: torch.Tensor) -> torch.Tensor:
    x = _flat(features)
    return x - x.mean(0)


def _basis(x: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis (n, r) of the column space of centred ``x``."""
    u, s, _ = torch.linalg.svd(x, full_matrices=False)
    return u[:, s > RANK_TOLERANCE * s[0]]


def _canonical(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(canonical correlations, x's canonical variates as columns) of centred x and y."""
    qx, qy = _basis(x), _basis(y)
    if min(qx.shape[1], qy.shape[1]) == 0:
        raise ValueError("CCA of a constant representation is undefined")
    if qx.shape[1] + qy.shape[1] > len(x) - 1:  # the spaces must meet: correlations of 1
        raise ValueError(
            f"CCA needs more inputs than dimensions: {len(x)} inputs, ranks "
            f"{qx.shape[1]} and {qy.shape[1]}; use more inputs or SVCCA"
        )
    u, rho, _ = torch.linalg.svd(qx.T @ qy, full_matrices=False)
    return rho.clamp(0, 1), qx @ u


def cca(x: torch.Tensor, y: torch.Tensor) -> float:
    rho, _ = _canonical(_centred(x), _centred(y))
    return float(rho.mean())


def _top_directions(x: torch.Tensor, share: float) -> torch.Tensor:
    """``x`` projected on its fewest top singular directions that keep ``share`` of its
    variance."""
    u, s, _ = torch.linalg.svd(x, full_matrices=False)
    kept = int(torch.searchsorted(torch.cumsum(s**2, 0) / torch.sum(s**2), share)) + 1
    return u[:, :kept] * s[:kept]


def svcca(x: torch.Tensor, y: torch.Tensor) -> float:
    x, y = _centred(x), _centred(y)
    return cca(_top_directions(x, SVCCA_VARIANCE), _top_directions(y, SVCCA_VARIANCE))


def pwcca(x: torch.Tensor, y: torch.Tensor) -> float:
    x, y = _centred(x), _centred(y)
    rho, variates = _canonical(x, y)
    weights = (variates.T @ x).abs().sum(1)  # how much of x each variate accounts for
    return float((weights * rho).sum() / weights.sum())


def procrustes(x: torch.Tensor, y: torch.Tensor) -> float:
    x, y = _centred(x), _centred(y)
    x, y = x / torch.linalg.norm(x), y / torch.linalg.norm(y)
    return float((2 - 2 * torch.linalg.matrix_norm(x.T @ y, ord="nuc")).clamp(min=0))


def _median_rbf_gram(x: torch.Tensor) -> torch.Tensor:
    squared = torch.cdist(x, x) ** 2
    off_diagonal = squared[~torch.eye(len(x), dtype=torch.bool, device=x.device)]
    bandwidth = RBF_BANDWIDTH * torch.sqrt(torch.median(off_diagonal))
    return torch.exp(-squared / (2 * bandwidth**2))


def rbf_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    k, l = _median_rbf_gram(_flat(x)), _median_rbf_gram(_flat(y))  # noqa: E741
    n = len(k)
    h = torch.eye(n, dtype=k.dtype, device=k.device) - 1.0 / n
    kc, lc = h @ k @ h, h @ l @ h
    return float(torch.sum(kc * lc) / torch.sqrt(torch.sum(kc * kc) * torch.sum(lc * lc)))


def _rdm(x: torch.Tensor) -> torch.Tensor:
    """The upper triangle of 1 - the Pearson correlation between inputs."""
    z = x - x.mean(1, keepdim=True)
    z = z / torch.linalg.norm(z, dim=1, keepdim=True)
    upper = torch.triu_indices(len(x), len(x), offset=1, device=x.device)
    return (1 - z @ z.T)[upper[0], upper[1]]


def rsa(x: torch.Tensor, y: torch.Tensor) -> float:
    a, b = (_rdm(_flat(z)).cpu().numpy() for z in (x, y))
    return float(spearmanr(a, b).statistic)  # ties take their mean rank


def _neighbours(x: torch.Tensor, k: int) -> torch.Tensor:
    z = torch.nn.functional.normalize(x, dim=1)
    similarity = z @ z.T
    similarity.fill_diagonal_(-torch.inf)
    return similarity.topk(k, dim=1).indices


def mutual_knn(x: torch.Tensor, y: torch.Tensor) -> float:
    n = len(x)
    if n <= MUTUAL_K:
        raise ValueError(f"mutual k-NN needs more than k = {MUTUAL_K} inputs, got {n}")
    a, b = _neighbours(_flat(x), MUTUAL_K), _neighbours(_flat(y), MUTUAL_K)
    shared = torch.zeros(n, n, dtype=torch.bool, device=a.device)
    shared.scatter_(1, a, True)
    return float(shared.gather(1, b).sum() / (n * MUTUAL_K))


@dataclass(frozen=True)
class Measure:
    """A similarity measure: ``fn(x, y)``, whether a higher value means more alike, and
    the value that two independent representations tend to (see the module's note)."""

    fn: Callable[[torch.Tensor, torch.Tensor], float]
    higher_is_similar: bool
    null: str


MEASURES = {
    "cka": Measure(linear_cka, True, "above 0 (about d / n)"),
    "cka_debiased": Measure(lambda x, y: linear_cka(x, y, debiased=True), True, "0"),
    "rbf_cka": Measure(rbf_cka, True, "above 0"),
    "cca": Measure(cca, True, "above 0 (about sqrt(d / n))"),
    "svcca": Measure(svcca, True, "above 0 (about sqrt(d / n))"),
    "pwcca": Measure(pwcca, True, "above 0 (about sqrt(d / n))"),
    "procrustes": Measure(procrustes, False, "near 2"),
    "rsa": Measure(rsa, True, "0"),
    "mutual_knn": Measure(mutual_knn, True, f"k / (n - 1), k = {MUTUAL_K}"),
}
