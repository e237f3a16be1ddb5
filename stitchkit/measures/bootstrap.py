"""Percentile-bootstrap intervals over test images, shared across every statistic that
reads the same images.

A statistic is carried as a *draw*: a float64 array of 1 + B values, its value on the
test images as they are (index 0) and on B resamples of them (1..B). Every statistic of
the same test images (same labels) is resampled with the same B index draws, so a
difference of two modes on the same images is a paired bootstrap, and any effect built
from draws with numpy's elementwise arithmetic (means, differences, minima) carries its
own bootstrap distribution. The interval is that distribution's percentiles.

A statistic measured on R replicates (seeds of models and stitches, the same test images)
is carried as R draws, an R x (1 + B) array; its interval (``replicated_interval``) adds
the spread across replicates to the spread over test images.
"""

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import Field

from stitchkit.common.schema import Float, Int, section


@section
class BootstrapSettings:
    """params.yaml `bootstrap:`: resamples of the test images (at least 1,000), the
    interval's confidence and the seed of the index draws."""

    resamples: Int = Field(default=1000, ge=1000)
    confidence: Float = Field(default=0.95, gt=0, lt=1)
    seed: Int = 0


@dataclass(frozen=True)
class Interval:
    """A statistic's value on the test images, its interval, n and, for a statistic of
    several replicates, their number (the value is then their mean)."""

    value: float
    low: float
    high: float
    n: int
    replicates: int = 1

    def as_dict(self) -> dict:
        out = {"value": self.value, "low": self.low, "high": self.high, "n": self.n}
        return out | ({"replicates": self.replicates} if self.replicates > 1 else {})


class Resampler:
    """Draws of per-sample values; one set of B resamples per test set (by its labels).

    ``mean(values, labels)`` is the draw of ``values``' mean (values: one number per
    test image, in the order of ``labels``). Resample counts are drawn once per test set
    from ``settings.seed`` and the labels' digest, so the draws depend on nothing else."""

    def __init__(self, settings: BootstrapSettings | None = None):
        self.settings = settings or BootstrapSettings()
        self._counts: dict[str, np.ndarray] = {}

    def _counts_of(self, labels: np.ndarray) -> np.ndarray:
        """B x n: how often each image is in resample b."""
        labels = np.ascontiguousarray(labels)
        key = hashlib.sha256(labels.tobytes() + str(labels.dtype).encode()).hexdigest()
        if key not in self._counts:
            n, resamples = len(labels), self.settings.resamples
            rng = np.random.default_rng([self.settings.seed, int(key[:15], 16)])
            picks = rng.integers(0, n, size=(resamples, n)) + n * np.arange(resamples)[:, None]
            counts = np.bincount(picks.ravel(), minlength=resamples * n).reshape(resamples, n)
            self._counts[key] = counts.astype(np.float64)
        return self._counts[key]

    def mean(self, values: npt.ArrayLike, labels: npt.ArrayLike) -> np.ndarray:
        """The draw of the mean of ``values`` (n numbers, one per test image)."""
        values = np.asarray(values, dtype=np.float64)
        counts = self._counts_of(np.asarray(labels))
        if values.shape != counts.shape[1:]:
            raise ValueError(f"{values.shape[0]} values for {counts.shape[1]} test images")
        return np.concatenate([[values.mean()], counts @ values / len(values)])

    def interval(self, draw: np.ndarray, n: int) -> Interval:
        """``draw``'s value and percentile interval, n being the images behind it."""
        return interval_of(draw, n, self.settings.confidence)


def interval_of(draw: np.ndarray, n: int, confidence: float = 0.95) -> Interval:
    """Value (draw[0]) and the percentile interval of draw[1:] at ``confidence``; for R
    replicates' draws (R x (1 + B)), ``replicated_interval``."""
    draw = np.asarray(draw, dtype=np.float64)
    if draw.ndim == 2:
        return replicated_interval(draw, n, confidence)
    tail = (1 - confidence) / 2
    low, high = np.quantile(draw[1:], [tail, 1 - tail])
    return Interval(float(draw[0]), float(low), float(high), int(n))


def replicated_interval(draws: np.ndarray, n: int, confidence: float = 0.95) -> Interval:
    """The mean over R replicates' draws (R x (1 + B), one row per replicate, resampled
    with the same test images) and a t interval around it.

    Its variance adds the replicates' sample variance over R (how far a rerun with other
    seeds moves the mean) to the bootstrap variance of the mean over test images; the
    degrees of freedom are Welch-Satterthwaite's, the image term counting as known. The
    replicates' variance already holds some image noise, so the interval errs wide. One
    replicate gives its percentile interval."""
    from scipy.stats import t as student_t

    draws = np.asarray(draws, dtype=np.float64)
    if len(draws) == 1:
        return interval_of(draws[0], n, confidence)
    values, replicates = draws[:, 0], len(draws)
    between = values.var(ddof=1) / replicates
    within = draws[:, 1:].mean(axis=0).var(ddof=1)
    variance = between + within
    dof = np.inf if between == 0 else variance**2 / (between**2 / (replicates - 1))
    half = float(student_t.ppf(1 - (1 - confidence) / 2, dof) * np.sqrt(variance))
    mean = float(values.mean())
    return Interval(mean, mean - half, mean + half, int(n), replicates)


def spread(values: npt.ArrayLike) -> dict:
    """Across replicates (seeds): mean, sample standard deviation, min, max and count;
    apart from, and not to be confused with, an interval over test images."""
    values = np.asarray(values, dtype=np.float64)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return {
        "mean": float(values.mean()),
        "std": std,
        "min": float(values.min()),
        "max": float(values.max()),
        "replicates": len(values),
    }
