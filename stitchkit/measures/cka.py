"""Linear centred kernel alignment (Kornblith et al., 2019), plain and debiased.

The debiased form uses the unbiased HSIC estimator of Song et al. (2012), as in
Nguyen et al. (2021): it is ~0 for independent features, where the plain estimator is
biased upwards when the number of features is not small against the number of samples.
"""

import torch


def _gram(features: torch.Tensor) -> torch.Tensor:
    x = features.reshape(len(features), -1).double()
    return x @ x.T


def _hsic(k: torch.Tensor, l: torch.Tensor, debiased: bool) -> torch.Tensor:  # noqa: E741
    n = len(k)
    if not debiased:
        h = torch.eye(n, dtype=k.dtype, device=k.device) - 1.0 / n
        return torch.sum((h @ k @ h) * l)
    k, l = k - torch.diag(torch.diag(k)), l - torch.diag(torch.diag(l))  # noqa: E741
    ones = torch.ones(n, dtype=k.dtype, device=k.device)
    trace = torch.sum(k * l)
    sums = (ones @ k @ ones) * (ones @ l @ ones) / ((n - 1) * (n - 2))
    cross = 2.0 / (n - 2) * (ones @ k @ (l @ ones))
    return (trace + sums - cross) / (n * (n - 3))


def linear_cka(x: torch.Tensor, y: torch.Tensor, debiased: bool = False) -> float:
    """CKA between features ``x`` (n, ...) and ``y`` (n, ...) of the same n inputs."""
    if len(x) != len(y):
        raise ValueError(f"CKA needs the same inputs on both sides, got {len(x)} and {len(y)}")
    if debiased and len(x) < 4:
        raise ValueError("debiased CKA needs at least 4 samples")
    k, l = _gram(x), _gram(y)  # noqa: E741
    hsic_xy = _hsic(k, l, debiased)
    return float(hsic_xy / torch.sqrt(_hsic(k, k, debiased) * _hsic(l, l, debiased)))
