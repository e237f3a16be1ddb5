"""The objectives that fit a stitching layer (paper Sec. 2), side by side.

Each takes the stitched pass (the stitched model h = g_{>j} . T . f_{<=i} evaluated
lazily), the reference pass of the unmodified end model g on the same inputs, and the
labels, and returns a scalar loss. Hint terms are indexed from the stitching point j:
term 0 is the activation at j, then every later stitching point of g, and last the
pooled penultimate features (never the logits).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

import torch
import torch.nn.functional as F

from stitchkit.errors import UserError


class StitchedPass:
    """The stitched model's hint terms and logits, computed only as far as asked."""

    def __init__(self, terms: Iterator[torch.Tensor], num_hint_terms: int):
        self._terms, self._seen = terms, []
        self.num_hint_terms = num_hint_terms

    def hint_terms(self, n: int) -> list[torch.Tensor]:
        self._seen += islice(self._terms, max(0, n - len(self._seen)))
        return self._seen[:n]

    def logits(self) -> torch.Tensor:
        return self.hint_terms(self.num_hint_terms + 1)[-1]


@dataclass
class ReferencePass:
    """The end model's own activations on the batch: hint terms from j, and softmax."""

    hint_terms: list[torch.Tensor]
    probs: torch.Tensor


def normalized_hint(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per sample ||pred - target||_F / ||target||_F, averaged over the batch."""
    distance = (pred - target).flatten(1).norm(dim=1)
    return (distance / target.flatten(1).norm(dim=1).clamp_min(1e-12)).mean()


def tlm_loss(stitched: StitchedPass, reference: ReferencePass, labels, weights=None):
    """Task loss matching (eq. 2): cross-entropy of h(x) against the labels."""
    return F.cross_entropy(stitched.logits(), labels)


def slm_loss(stitched: StitchedPass, reference: ReferencePass, labels, weights=None):
    """Soft label matching (eq. 1): cross-entropy of h(x) against the end model's softmax."""
    log_probs = F.log_softmax(stitched.logits(), dim=1)
    return -(reference.probs * log_probs).sum(dim=1).mean()


def hint_loss(stitched: StitchedPass, reference: ReferencePass, labels, weights=None):
    """Direct matching trained by gradient descent (eq. 3, normalised): the hint at j."""
    return normalized_hint(stitched.hint_terms(1)[0], reference.hint_terms[0])


def fula_loss(stitched: StitchedPass, reference: ReferencePass, labels, weights):
    """Functional latent alignment (eq. 5): weighted normalised hints at j and every
    later point of g fed the stitched activation, up to the penultimate features."""
    needed = max(i for i, w in enumerate(weights) if w > 0) + 1
    terms = stitched.hint_terms(needed)
    return sum(
        w * normalized_hint(pred, target)
        for w, pred, target in zip(weights, terms, reference.hint_terms, strict=False)
        if w > 0
    )


OBJECTIVES = {"hint": hint_loss, "slm": slm_loss, "tlm": tlm_loss, "fula": fula_loss}
MODES = ("dm", *OBJECTIVES)  # dm: the least-squares initialisation alone, untrained


def fula_weights(spec, num_terms: int) -> list[float]:
    """FuLA weights for ``num_terms`` hint terms: "uniform", "last" (penultimate only),
    "first-N" (uniform over the first N terms; first-1 is Hint) or an explicit list."""
    if spec == "uniform":
        return [1 / num_terms] * num_terms
    if spec == "last":
        return [0.0] * (num_terms - 1) + [1.0]
    if isinstance(spec, str) and spec.startswith("first-") and spec[6:].isdigit():
        n = min(int(spec[6:]), num_terms)
        if n < 1:
            raise UserError(f"FuLA weights {spec!r} need N >= 1")
        return [1 / n] * n + [0.0] * (num_terms - n)
    if isinstance(spec, list | tuple):
        weights = [float(w) for w in spec]
        if len(weights) != num_terms:
            raise UserError(
                f"FuLA weights {spec} have {len(weights)} entries; stitching at this point "
                f"has {num_terms} hint terms (its point to 9, plus the pooled features)"
            )
        if min(weights) < 0 or abs(sum(weights) - 1) > 1e-6:
            raise UserError(f"FuLA weights {spec} must be non-negative and sum to 1")
        return weights
    raise UserError(
        f"unknown FuLA weights {spec!r}; use uniform, last, first-N or a list summing to 1"
    )
