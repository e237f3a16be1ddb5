"""L-inf PGD and the adversarial-training mix of eq. (4), for base models and stitches.

Inputs are images in [0, 1] (normalisation lives inside the models). ``epsilon`` and
``step_size`` may be written as fractions in params.yaml ("8/255").
"""

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import torch
import torch.nn.functional as F

from stitchkit.errors import UserError


def parse_fraction(value, name: str) -> float:
    """A number or a fraction string such as "8/255", as a float; else a UserError."""
    try:
        return float(Fraction(str(value).replace(" ", "")))
    except (ValueError, ZeroDivisionError):
        raise UserError(
            f"{name} must be a number or a fraction like 8/255, got {value!r}"
        ) from None


@dataclass(frozen=True)
class AdversarialTraining:
    """Eq. (4): loss = (1 - alpha) L(x) + alpha L(x_adv), x_adv from L-inf PGD with
    ``steps`` steps of ``step_size`` inside the ``epsilon`` ball, from a uniform random
    start. The paper (App. A.1): alpha 0.5, 10 steps of 2/255, epsilon 8/255."""

    alpha: float = 0.5
    epsilon: float = 8 / 255
    step_size: float = 2 / 255
    steps: int = 10

    def __post_init__(self):
        for name in ("alpha", "epsilon", "step_size"):
            object.__setattr__(self, name, parse_fraction(getattr(self, name), name))
        if not 0 <= self.alpha <= 1:
            raise UserError(f"adversarial alpha must be in [0, 1], got {self.alpha}")
        if self.epsilon <= 0 or self.step_size <= 0:
            raise UserError(
                f"adversarial epsilon and step_size must be > 0, got {self.epsilon} and "
                f"{self.step_size}"
            )
        if not isinstance(self.steps, int) or self.steps < 1:
            raise UserError(f"adversarial steps must be a positive integer, got {self.steps!r}")

    @classmethod
    def from_params(cls, options, where: str) -> "AdversarialTraining":
        """From a params.yaml mapping; every problem names ``where``."""
        if not isinstance(options, dict) or set(options) - {
            "alpha",
            "epsilon",
            "step_size",
            "steps",
        }:
            raise UserError(
                f"{where} must map some of alpha, epsilon, step_size, steps to values, "
                f"got {options!r}"
            )
        try:
            return cls(**options)
        except UserError as exc:
            raise UserError(f"{where}: {exc}") from None


def pgd(
    logits_of: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    epsilon: float,
    step_size: float,
    steps: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Untargeted L-inf PGD on the cross-entropy of ``logits_of``: adversarial images in
    [0, 1] within ``epsilon`` of ``x``. A ``generator`` (CPU) draws a uniform random
    start; without one the attack starts at ``x``. Only input gradients are taken."""
    x = x.detach()
    if generator is None:
        delta = torch.zeros_like(x)
    else:
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype)
        delta = (2 * noise - 1).to(x.device) * epsilon
    x_adv = (x + delta).clamp(0, 1)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        with torch.enable_grad():
            loss = F.cross_entropy(logits_of(x_adv), y)
            (grad,) = torch.autograd.grad(loss, x_adv)
        step = x_adv.detach() + step_size * grad.sign()
        x_adv = torch.min(torch.max(step, x - epsilon), x + epsilon).clamp(0, 1)
    return x_adv.detach()
