"""The objectives that fit a stitching layer (paper Sec. 2), side by side.

Each takes the stitched pass (the stitched model h = g_{>j} . T . f_{<=i} evaluated
lazily), the reference pass of the unmodified end model g on the same inputs, the
labels and the stitch's LossOptions, and returns a scalar loss. Hint terms are the
activations at the stitching points of g from j on: term 0 is at j, the last at point
9 (the last block, before pooling), as in the authors' code. Logits are never a hint.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

import torch
import torch.nn.functional as F

from stitchkit.common.errors import UserError

HINT_NORMS = ("batch", "sample")


@dataclass(frozen=True)
class LossOptions:
    """``hint_norm``: ``batch`` divides norms over the whole batch tensor (the authors'
    code), ``sample`` per sample, then averages. FuLA's ``weights`` are one per hint
    term; ``soft`` adds the KL divergence to the end model's softmax as one more
    averaged term (the authors' ``fula_soft``)."""

    hint_norm: str = "batch"
    weights: tuple[float, ...] | None = None
    soft: bool = False


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
    """The end model's own pass on the batch: activations from point j on, and logits;
    only as far as the objectives fed by it read (Reads): the logits are None
    when none reads them."""

    hint_terms: list[torch.Tensor]
    logits: torch.Tensor | None


@dataclass(frozen=True)
class Reads:
    """What an objective reads of the stitched pass and, alike, of the reference pass:
    the first ``hints`` hint terms (from the stitch's point j on) and, if ``logits``,
    the logits. ``reference``: whether it reads the reference pass at all (TLM reads
    the labels instead)."""

    hints: int
    logits: bool
    reference: bool = True


def normalized_hint(pred: torch.Tensor, target: torch.Tensor, norm: str = "batch") -> torch.Tensor:
    """||pred - target||_F / ||target||_F over the whole batch (``batch``), or per sample
    and averaged over the batch (``sample``)."""
    if norm == "batch":
        return (pred - target).norm() / target.norm().clamp_min(1e-12)
    distance = (pred - target).flatten(1).norm(dim=1)
    return (distance / target.flatten(1).norm(dim=1).clamp_min(1e-12)).mean()


def soft_label_divergence(logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
    """KL(softmax(target) || softmax(logits)), averaged over the batch."""
    target_log_probs = F.log_softmax(target_logits, dim=1)
    log_probs = F.log_softmax(logits, dim=1)
    return (target_log_probs.exp() * (target_log_probs - log_probs)).sum(dim=1).mean()


def tlm_loss(
    stitched: StitchedPass, reference: ReferencePass, labels: torch.Tensor, options: LossOptions
) -> torch.Tensor:
    """Task loss matching (eq. 2): cross-entropy of h(x) against the labels."""
    return F.cross_entropy(stitched.logits(), labels)


def slm_loss(
    stitched: StitchedPass, reference: ReferencePass, labels: torch.Tensor, options: LossOptions
) -> torch.Tensor:
    """Soft label matching (eq. 1): cross-entropy of h(x) against the end model's softmax
    (the authors minimise the KL divergence: the same gradient, a loss lower by the
    entropy of the end model's softmax)."""
    log_probs = F.log_softmax(stitched.logits(), dim=1)
    return -(F.softmax(reference.logits, dim=1) * log_probs).sum(dim=1).mean()


def hint_loss(
    stitched: StitchedPass, reference: ReferencePass, labels: torch.Tensor, options: LossOptions
) -> torch.Tensor:
    """Direct matching trained by gradient descent (eq. 3, normalised): the hint at j."""
    return normalized_hint(stitched.hint_terms(1)[0], reference.hint_terms[0], options.hint_norm)


def fula_loss(
    stitched: StitchedPass, reference: ReferencePass, labels: torch.Tensor, options: LossOptions
) -> torch.Tensor:
    """Functional latent alignment (eq. 5): weighted normalised hints at j and at every
    later stitching point of g fed the stitched activation; with ``soft``, the KL term
    joins the average: (n * hints + KL) / (n + 1) for n weighted hint terms."""
    weights = options.weights
    terms = stitched.hint_terms(_weighted_terms(weights))
    hints = sum(
        w * normalized_hint(pred, target, options.hint_norm)
        for w, pred, target in zip(weights, terms, reference.hint_terms, strict=False)
        if w > 0
    )
    if not options.soft:
        return hints
    n = sum(w > 0 for w in weights)
    return (n * hints + soft_label_divergence(stitched.logits(), reference.logits)) / (n + 1)


def _weighted_terms(weights: Sequence[float]) -> int:
    """How many hint terms FuLA's ``weights`` reach: up to the last weighted one."""
    return max(i for i, w in enumerate(weights) if w > 0) + 1


OBJECTIVES = {"hint": hint_loss, "slm": slm_loss, "tlm": tlm_loss, "fula": fula_loss}
MODES = ("dm", *OBJECTIVES)  # dm: the least-squares initialisation alone, untrained


def objective_reads(objective: str, options: LossOptions) -> Reads:
    """What ``objective`` (a key of OBJECTIVES, or ``dm``, whose recalibration reports
    the hint loss) reads, so that the reference pass and the gradient stop there."""
    if objective == "fula":
        return Reads(_weighted_terms(options.weights), options.soft)
    return {
        "tlm": Reads(0, True, reference=False),
        "slm": Reads(0, True),
        "hint": Reads(1, False),
        "dm": Reads(1, False),
    }[objective]


def fula_weights(spec: str | Sequence[float], num_terms: int) -> list[float]:
    """FuLA weights for ``num_terms`` hint terms (stitching point j to 9): "uniform",
    "last" (point 9 only), "first-N" (uniform over the first N points from j; first-1
    is Hint; the authors' funct_cutoff N - 1) or an explicit list."""
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
                f"FuLA weights {list(spec)} have {len(weights)} entries; stitching at this "
                f"point has {num_terms} hint terms (its stitching point to 9)"
            )
        if min(weights) < 0 or abs(sum(weights) - 1) > 1e-6:
            raise UserError(f"FuLA weights {list(spec)} must be non-negative and sum to 1")
        return weights
    raise UserError(
        f"unknown FuLA weights {spec!r}; use uniform, last, first-N or a list summing to 1"
    )
