"""Three-way verdicts on a claim's effect and its interval.

A claim says its effect lies on one side of a threshold (``above``: effect > threshold,
or below it). The verdict is *holds* when the whole interval lies on the claim's side,
*contradicted* when the whole interval lies on the other side, and *inconclusive* when it
straddles the threshold. Several measurements of one claim (its panels) combine as:
holds only if every one holds, contradicted if any is contradicted, else inconclusive.
"""

import math
from dataclasses import dataclass

from stitchkit.measures.bootstrap import Interval

HOLDS, CONTRADICTED, INCONCLUSIVE, UNMEASURED = (
    "holds",
    "contradicted",
    "inconclusive",
    "not measured",
)
TIE = 1e-9


@dataclass(frozen=True)
class Measurement:
    """One effect of a claim (``label`` says where it was measured), its interval, the
    threshold and the claim's side of it."""

    label: str
    effect: Interval
    threshold: float
    above: bool = True

    @property
    def verdict(self) -> str:
        """Ends within TIE of the threshold count as on it (float noise of equal sums)."""
        low, high, t = self.effect.low, self.effect.high, self.threshold
        if (low > t + TIE) if self.above else (high < t - TIE):
            return HOLDS
        if (high <= t + TIE) if self.above else (low >= t - TIE):
            return CONTRADICTED
        return INCONCLUSIVE

    @property
    def margin(self) -> float:
        """How far the effect lies on the claim's side of the threshold (negative: the
        other side)."""
        distance = self.effect.value - self.threshold
        return distance if self.above else -distance

    def scale_to_decide(self) -> float | None:
        """For an inconclusive effect: about how many times the test images (or, for an
        effect of replicates, the replicates) would narrow the interval (as 1 / sqrt(n))
        until it clears the threshold on the side the effect lies on; None when the
        effect sits at the threshold (no scale decides)."""
        if self.verdict != INCONCLUSIVE:
            return 1.0
        value, t = self.effect.value, self.threshold
        if math.isclose(value, t, abs_tol=1e-12):
            return None
        half = value - self.effect.low if value > t else self.effect.high - value
        return max(1.0, (half / abs(value - t)) ** 2)


def resolution(n: int, confidence: float = 0.95) -> float:
    """The finest effect that n test images resolve: the exact (Clopper-Pearson) upper
    bound on a rate of which none of the n images showed an instance."""
    from scipy.stats import beta

    return float(beta.ppf(1 - (1 - confidence) / 2, 1, n))


def at_resolution(effect: Interval, confidence: float = 0.95) -> Interval:
    """``effect`` with its interval reaching at least ``resolution(n)`` either side of
    its value. A percentile bootstrap cannot see beyond its sample: where no image
    tells two stitches apart (every robust accuracy 0 on the attacked images, say), its
    interval has no width, which would decide any threshold however few the images."""
    r = resolution(effect.n, confidence)
    return Interval(
        effect.value,
        min(effect.low, effect.value - r),
        max(effect.high, effect.value + r),
        effect.n,
        effect.replicates,
    )


def combined(verdicts: list[str]) -> str:
    """Every panel holds: holds; any is contradicted: contradicted; else inconclusive."""
    if not verdicts:
        return UNMEASURED
    if CONTRADICTED in verdicts:
        return CONTRADICTED
    return HOLDS if all(v == HOLDS for v in verdicts) else INCONCLUSIVE


def deciding(measurements: list[Measurement]) -> Measurement | None:
    """The measurement that decides the combined verdict: a contradicted one (the
    furthest on the wrong side), else the inconclusive one with the smallest margin,
    else the holding one with the smallest margin."""
    if not measurements:
        return None
    rank = {CONTRADICTED: 0, INCONCLUSIVE: 1, HOLDS: 2}
    return min(measurements, key=lambda m: (rank[m.verdict], m.margin))


def what_would_decide(measurement: Measurement) -> str:
    """A sentence for an inconclusive measurement: the scale that would decide it."""
    factor = measurement.scale_to_decide()
    replicates = measurement.effect.replicates
    if factor is None:
        more = "replicates" if replicates > 1 else "test images"
        return f"the effect sits at the threshold: more {more} alone will not decide it"
    if replicates > 1:
        return (
            f"about {math.ceil(factor * replicates)} replicates, now {replicates} (interval "
            "width as 1/sqrt(replicates))"
        )
    return f"about {math.ceil(factor)}x the test images (interval width as 1/sqrt(n))"
