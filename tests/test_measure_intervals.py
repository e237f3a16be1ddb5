"""The similarity measures' intervals (stitchkit.measures.measure_intervals): the
delete-a-group jackknife by hand, the exact feature reduction that rotation-invariant
measures read, and intervals that hold their value and narrow with more images."""

import numpy as np
import pytest
import torch
from scipy.stats import t as student_t

from stitchkit.measures.measure_intervals import (
    ROTATION_INVARIANT,
    flat,
    jackknife_groups,
    jackknife_interval,
    reduced,
)
from stitchkit.measures.similarity import MEASURES


def _pair(n: int, d: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two related representations: y is a noisy linear map of x."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = x @ torch.randn(d, 30, generator=g, dtype=torch.float64)
    return x, y + 3 * torch.randn(n, 30, generator=g, dtype=torch.float64)


def test_jackknife_of_a_mean_by_hand():
    x = torch.arange(12, dtype=torch.float64).reshape(12, 1) ** 2
    groups = [np.array([0, 1, 2, 3]), np.array([4, 5, 6, 7]), np.array([8, 9, 10, 11])]
    interval = jackknife_interval(lambda a, b: float(a.mean()), x, x, groups)
    leave_outs = np.array([x[4:].mean(), torch.cat([x[:4], x[8:]]).mean(), x[:8].mean()])
    half = student_t.ppf(0.975, 2) * np.sqrt(2 / 3 * ((leave_outs - leave_outs.mean()) ** 2).sum())
    assert interval.value == pytest.approx(float(x.mean()))
    assert interval.high - interval.value == pytest.approx(half)
    assert interval.value - interval.low == pytest.approx(half)
    assert interval.n == 12


def test_groups_are_disjoint_cover_every_image_and_follow_the_seed():
    groups = jackknife_groups(103, 10, seed=4)
    assert sorted(np.concatenate(groups)) == list(range(103))
    assert {len(g) for g in groups} == {10, 11}
    assert all(
        np.array_equal(a, b) for a, b in zip(groups, jackknife_groups(103, 10, 4), strict=True)
    )
    with pytest.raises(ValueError, match="groups"):
        jackknife_groups(5, 1, 0)


def test_reduced_features_keep_every_inner_product():
    x = torch.randn(20, 300, dtype=torch.float64)
    r = reduced(x)
    assert r.shape == (20, 20)
    torch.testing.assert_close(r @ r.T, x @ x.T)
    assert reduced(x[:, :10]) is not None and reduced(x[:, :10]).shape == (20, 10)


@pytest.mark.parametrize("name", sorted(ROTATION_INVARIANT))
def test_rotation_invariant_measures_read_reduced_features_exactly(name):
    """Features wider than the images (as early layers' are), of low rank so that
    CCA-type measures are defined."""
    g = torch.Generator().manual_seed(1)
    z = torch.randn(60, 6, generator=g, dtype=torch.float64)
    x = z @ torch.randn(6, 200, generator=g, dtype=torch.float64)
    y = (z + 0.3 * torch.randn(60, 6, generator=g, dtype=torch.float64)) @ torch.randn(
        6, 150, generator=g, dtype=torch.float64
    )
    assert MEASURES[name].fn(reduced(x), reduced(y)) == pytest.approx(
        MEASURES[name].fn(x, y), abs=1e-9
    )


@pytest.mark.parametrize("name", ["rsa", "pwcca"])
def test_measures_that_read_the_feature_basis_are_not_listed_as_invariant(name):
    x, y = _pair(300, d=20)
    q, _ = torch.linalg.qr(torch.randn(20, 20, dtype=torch.float64))
    assert name not in ROTATION_INVARIANT
    assert MEASURES[name].fn(x @ q, y) != pytest.approx(MEASURES[name].fn(x, y), abs=1e-6)


@pytest.mark.parametrize("name", ["cka", "cka_debiased", "rbf_cka", "procrustes", "mutual_knn"])
def test_intervals_hold_their_value_and_narrow_with_more_images(name):
    widths = []
    for n in (100, 800):
        x, y = _pair(n)
        interval = jackknife_interval(MEASURES[name].fn, x, y, jackknife_groups(n, 10, 0))
        assert interval.low < interval.value < interval.high
        widths.append(interval.high - interval.low)
    assert widths[1] < 0.7 * widths[0]


def test_flat_copies_read_only_memory_maps(tmp_path):
    array = np.lib.format.open_memmap(
        tmp_path / "a.npy", mode="w+", dtype=np.float32, shape=(4, 2, 3)
    )
    array[:] = 1.5
    array.flush()
    rows = flat(np.load(tmp_path / "a.npy", mmap_mode="r"))
    assert rows.dtype == torch.float64 and rows.shape == (4, 6) and float(rows.sum()) == 36.0
