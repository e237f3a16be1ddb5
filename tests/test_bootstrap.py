"""Bootstrap intervals over test images: coverage, pairing, determinism, and agreement
with scipy's percentile bootstrap."""

import numpy as np
import pytest
from scipy import stats

from stitchkit.common.errors import UserError
from stitchkit.common.schema import validated
from stitchkit.measures.bootstrap import BootstrapSettings, Resampler, interval_of, spread


def test_the_nominal_95_interval_covers_a_bernoulli_p_about_95_percent_of_the_time():
    p, n, repeats = 0.3, 200, 400
    rng = np.random.default_rng(0)
    covered = 0
    for seed in range(repeats):
        correct = (rng.random(n) < p).astype(float)
        resampler = Resampler(BootstrapSettings(seed=seed))
        interval = resampler.interval(resampler.mean(correct, np.arange(n)), n)
        covered += interval.low <= p <= interval.high
    # binomial sd of the coverage over 400 repeats is 0.011; the percentile bootstrap
    # of a proportion at n = 200 runs slightly below nominal
    assert 0.91 <= covered / repeats <= 0.98


def test_a_paired_difference_of_identical_predictions_is_zero_with_zero_width():
    correct = (np.random.default_rng(1).random(500) < 0.6).astype(float)
    labels = np.random.default_rng(2).integers(0, 10, 500)
    resampler = Resampler()
    difference = resampler.mean(correct, labels) - resampler.mean(correct.copy(), labels)
    interval = resampler.interval(difference, 500)
    assert (interval.value, interval.low, interval.high) == (0.0, 0.0, 0.0)


def test_paired_intervals_are_narrower_than_independent_ones_for_correlated_modes():
    rng = np.random.default_rng(3)
    a = (rng.random(1000) < 0.7).astype(float)
    b = np.where(rng.random(1000) < 0.9, a, 1 - a)  # b agrees with a on 90% of images
    labels = rng.integers(0, 10, 1000)
    paired = Resampler().interval(Resampler().mean(a, labels) - Resampler().mean(b, labels), 1000)
    independent = Resampler().mean(a, labels) - Resampler(BootstrapSettings(seed=9)).mean(b, labels)
    unpaired = interval_of(independent, 1000)
    assert paired.high - paired.low < 0.7 * (unpaired.high - unpaired.low)


def test_the_interval_matches_scipys_percentile_bootstrap():
    values = np.random.default_rng(4).random(300)
    ours = Resampler(BootstrapSettings(resamples=5000)).interval(
        Resampler(BootstrapSettings(resamples=5000)).mean(values, np.arange(300)), 300
    )
    theirs = stats.bootstrap(
        (values,), np.mean, n_resamples=5000, method="percentile", random_state=0
    ).confidence_interval
    assert ours.value == pytest.approx(values.mean())
    assert ours.low == pytest.approx(theirs.low, abs=0.004)
    assert ours.high == pytest.approx(theirs.high, abs=0.004)


def test_draws_depend_only_on_the_seed_and_the_test_set():
    values = np.linspace(0, 1, 50)
    first = Resampler().mean(values, np.arange(50))
    assert np.array_equal(first, Resampler().mean(values, np.arange(50)))
    assert not np.array_equal(
        first, Resampler(BootstrapSettings(seed=1)).mean(values, np.arange(50))
    )
    assert first.shape == (1001,) and first[0] == pytest.approx(0.5)


def test_values_must_match_the_test_set():
    with pytest.raises(ValueError, match="3 values for 4 test images"):
        Resampler().mean(np.ones(3), np.arange(4))


def test_fewer_than_1000_resamples_are_refused_with_the_key():
    with pytest.raises(UserError, match="bootstrap.resamples"):
        validated(BootstrapSettings, {"resamples": 100}, "bootstrap")


def test_spread_across_replicates_is_kept_apart_from_intervals():
    assert spread([0.8, 0.9, 1.0]) == {
        "mean": pytest.approx(0.9),
        "std": pytest.approx(0.1),
        "min": 0.8,
        "max": 1.0,
        "replicates": 3,
    }


def test_replicates_interval_adds_their_spread_to_the_images_by_hand():
    # three replicates, resampled alike: the image term is the variance of the mean row
    base = np.linspace(-0.01, 0.01, 1000)  # a draw's spread over its 1,000 resamples
    draws = np.stack([np.concatenate([[v], v + base]) for v in (0.50, 0.56, 0.53)])
    interval = interval_of(draws, 400)
    between = np.var([0.50, 0.56, 0.53], ddof=1) / 3  # 0.0003
    within = np.var(0.53 + base, ddof=1)
    dof = (between + within) ** 2 / (between**2 / 2)
    half = stats.t.ppf(0.975, dof) * np.sqrt(between + within)
    assert (interval.value, interval.n, interval.replicates) == (pytest.approx(0.53), 400, 3)
    assert (interval.low, interval.high) == pytest.approx((0.53 - half, 0.53 + half))
    # the replicates' spread dominates: wider than any one replicate's percentile interval
    assert interval.high - interval.low > 2 * (interval_of(draws[0], 400).high - 0.50)
    assert interval.as_dict()["replicates"] == 3


def test_replicates_that_agree_leave_the_image_interval_and_one_is_its_own():
    draw = Resampler().mean((np.arange(300) % 3 == 0).astype(float), np.arange(300) % 10)
    alone = interval_of(draw, 300)
    assert interval_of(draw[None], 300) == alone and "replicates" not in alone.as_dict()
    same = interval_of(np.stack([draw, draw]), 300)  # no spread between: a normal interval
    assert same.value == pytest.approx(alone.value)
    assert same.high - same.low == pytest.approx(alone.high - alone.low, rel=0.1)


def test_the_replicates_interval_covers_the_mean_over_seeds_about_95_percent():
    # each replicate (seed) has its own accuracy around 0.7, measured on 400 images
    rng, n, replicates, repeats = np.random.default_rng(5), 400, 3, 400
    labels, covered = np.arange(n) % 10, 0
    resampler = Resampler()
    for _ in range(repeats):
        rates = 0.7 + rng.normal(0, 0.03, replicates)
        draws = np.stack([resampler.mean(rng.random(n) < p, labels) for p in rates])
        interval = interval_of(draws, n)
        covered += interval.low <= 0.7 <= interval.high
    # the interval errs wide (the replicates' variance holds image noise too)
    assert 0.93 <= covered / repeats <= 0.995
