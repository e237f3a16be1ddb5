"""The similarity measures beside stitching (stitchkit.measures.similarity) on cases with
a known answer: a rotation, an isotropic scaling, an independent representation, and
hand-computed values."""

import math

import pytest
import torch

from stitchkit.measures.similarity import MEASURES, MUTUAL_K, cca, procrustes, rsa

N, D = 400, 12


def _features(seed: int, n: int = N, d: int = D) -> torch.Tensor:
    """Correlated Gaussian features (a random linear map of white noise), so that the
    measures see an anisotropic cloud as real activations are."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g) @ torch.randn(d, d, generator=g)


def _rotation(d: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(seed)))
    return q


def _identical(name: str) -> float:
    return 0.0 if name == "procrustes" else 1.0


@pytest.mark.parametrize("name", [m for m in MEASURES if m != "rsa"])
def test_a_rotation_is_fully_similar(name):
    """Every measure but RSA (whose correlation distance between inputs is not
    rotation-invariant) reads a rotated copy as identical."""
    x = _features(0)
    assert MEASURES[name].fn(x, x @ _rotation(D, 1)) == pytest.approx(_identical(name), abs=1e-6)


@pytest.mark.parametrize("name", list(MEASURES))
def test_an_isotropic_scaling_is_fully_similar(name):
    x = _features(0)
    assert MEASURES[name].fn(x, 3.5 * x) == pytest.approx(_identical(name), abs=1e-6)


@pytest.mark.parametrize("name", list(MEASURES))
def test_an_independent_representation_reads_near_the_null(name):
    x, y = _features(0), _features(1)
    value = MEASURES[name].fn(x, y)
    near_null = {
        "cka": (0.0, 0.1),  # biased upwards, about d / n
        "cka_debiased": (-0.02, 0.02),
        "rbf_cka": (0.0, 0.1),
        "cca": (0.0, 0.2),  # canonical correlations of noise: about sqrt(d / n)
        "svcca": (0.0, 0.2),
        "pwcca": (0.0, 0.2),
        "procrustes": (1.5, 2.0),
        "rsa": (-0.05, 0.05),
        "mutual_knn": (0.0, 3 * MUTUAL_K / (N - 1)),
    }[name]
    assert near_null[0] <= value <= near_null[1], (name, value)
    if MEASURES[name].higher_is_similar:
        assert value < MEASURES[name].fn(x, x + 0.5 * y)  # a shared signal reads higher
    else:
        assert value > MEASURES[name].fn(x, x + 0.5 * y)


def test_hand_computed_values():
    # x = (1, 2, 3, 4), y = (1, 3, 2, 4): one dimension each, centred correlation 0.8
    x = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    y = torch.tensor([[1.0], [3.0], [2.0], [4.0]])
    with pytest.raises(ValueError, match="CCA needs more inputs than dimensions"):
        cca(x[:2], y[:2])
    assert cca(x, y) == pytest.approx(0.8)
    # Procrustes of unit-norm centred vectors: 2 - 2 |<x, y>| = 2 - 2 x 0.8
    assert procrustes(x, y) == pytest.approx(2 - 2 * 0.8)
    # RSA by hand: 1 - Pearson correlation between the inputs' features, then Spearman's
    # correlation of the two dissimilarity lists (ranked by hand; no ties here)
    g = torch.Generator().manual_seed(3)
    x2, y2 = torch.rand(5, 4, generator=g), torch.rand(5, 4, generator=g)
    upper = [(i, j) for i in range(5) for j in range(i + 1, 5)]

    def rdm(rows):
        def corr(a, b):
            a, b = [v - sum(a) / len(a) for v in a], [v - sum(b) / len(b) for v in b]
            return sum(p * q for p, q in zip(a, b, strict=True)) / math.sqrt(
                sum(p * p for p in a) * sum(q * q for q in b)
            )

        return [1 - corr(rows[i], rows[j]) for i, j in upper]

    def spearman(a, b):
        ra, rb = [sorted(a).index(v) for v in a], [sorted(b).index(v) for v in b]
        mean = (len(a) - 1) / 2
        num = sum((p - mean) * (q - mean) for p, q in zip(ra, rb, strict=True))
        return num / sum((p - mean) ** 2 for p in ra)

    a, b = rdm(x2.tolist()), rdm(y2.tolist())
    assert len(set(a)) == len(a) == len(set(b))  # no ties
    assert rsa(x2, y2) == pytest.approx(spearman(a, b))


def test_cca_type_measures_refuse_more_dimensions_than_inputs():
    x, y = _features(0, n=20, d=10), _features(1, n=20, d=10)
    for name in ("cca", "pwcca"):
        with pytest.raises(ValueError, match="CCA needs more inputs than dimensions"):
            MEASURES[name].fn(x, y)
