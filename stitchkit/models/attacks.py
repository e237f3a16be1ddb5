"""L-inf PGD and adversarial training of base models and stitches.

Inputs are images in [0, 1] (normalisation lives inside the models). Two ways to mix
adversarial examples into training, for base models and stitches alike:

- ``batch`` (the authors' code, default): a share ``alpha`` of each batch is replaced
  by its PGD examples and the mixed batch goes through one training pass, so
  BatchNorm statistics follow the mixed batches;
- ``loss`` (the paper's eq. 4 read literally): (1 - alpha) L(x) + alpha L(x_adv) over
  separate clean and adversarial passes.
"""

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from stitchkit.common.schema import Bool, Float, Fraction, PositiveInt, section

MIXES = ("batch", "loss")


@section
class AdversarialTraining:
    """PGD settings and how its examples enter training. The paper (App. A.1): alpha
    0.5, 10 steps of 2/255, epsilon 8/255; the authors: no random start."""

    alpha: Float = Field(default=0.5, ge=0, le=1)
    epsilon: Fraction = Field(default=8 / 255, gt=0)
    step_size: Fraction = Field(default=2 / 255, gt=0)
    steps: PositiveInt = 10
    mix: Literal[MIXES] = "batch"
    random_start: Bool = False

    def attack(
        self,
        logits_of: Callable[[torch.Tensor], torch.Tensor],
        x: torch.Tensor,
        y: torch.Tensor,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """PGD examples of (x, y) against ``logits_of`` with these settings."""
        return pgd(
            logits_of,
            x,
            y,
            self.epsilon,
            self.step_size,
            self.steps,
            generator if self.random_start else None,
        )

    def replaced(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Indices of the int(alpha * n) samples of a batch of ``n`` that ``batch`` mixing
        replaces by their PGD examples, drawn with ``generator``."""
        return torch.randperm(n, generator=generator)[: int(self.alpha * n)].sort().values


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
