"""Seeded draws of some of a dataset's images, and the check that a count fits the data.

A count in params.yaml is a number of images or null for all of them. A count beyond the
data is refused rather than read as "all": a typo such as 1000000000 would otherwise run
the whole split for minutes without a word.
"""

import torch

from stitchkit.common.errors import UserError


def check_count(key: str, count: int | None, available: int, what: str) -> None:
    """Refuse ``count`` (params key ``key``) if it exceeds the ``available`` ``what``."""
    if count is not None and count > available:
        raise UserError(
            f"{key} is {count}, but there are only {available} {what}; "
            f"use at most {available}, or null for all of them"
        )


def seeded_subset(n: int, k: int | None, seed: int) -> torch.Tensor:
    """Sorted indices of a draw of ``k`` of ``n`` items, the first ``k`` of a permutation
    seeded with ``seed``: all of them if k is None or at least n (check counts from
    params.yaml with check_count first)."""
    if k is None or k >= n:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:k].sort().values
