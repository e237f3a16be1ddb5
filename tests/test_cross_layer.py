"""Cross-layer metrics on hand-made matrices."""

import numpy as np
import pytest

from stitchkit.testbeds.cross_layer import accuracy_matrix, non_directional, self_accuracy


def results_from(matrix, points, mode="hint"):
    return [
        {"mode": mode, "front_point": i, "end_point": j, "test_accuracy": matrix[a][b]}
        for a, i in enumerate(points)
        for b, j in enumerate(points)
    ]


def test_accuracy_matrix_places_each_pair():
    m = [[0.9, 0.2], [0.7, 0.8]]
    assert accuracy_matrix(results_from(m, [3, 7]), "hint", [3, 7]).tolist() == m
    with pytest.raises(ValueError, match="lacks some"):
        accuracy_matrix(results_from(m, [3, 7]), "fula", [3, 7])


def test_non_directional_is_symmetric_average():
    a = np.array([[0.9, 0.2, 0.1], [0.7, 0.8, 0.3], [0.5, 0.6, 0.4]])
    nd = non_directional(a)
    assert np.allclose(nd, nd.T) and nd[0, 1] == pytest.approx(0.45)
    assert np.allclose(np.diag(nd), np.diag(a))


def test_self_accuracy_by_hand():
    a = np.array([[0.9, 0.2, 0.1], [0.7, 0.8, 0.3], [0.5, 0.6, 0.4]])
    # row 0: diagonal is max; row 1: 0.8 is max; row 2: 0.6 > 0.4 -> 2 of 3
    assert self_accuracy(a) == pytest.approx(2 / 3)
    # non-directional: row 2 becomes [0.3, 0.45, 0.4] -> still 2 of 3
    assert self_accuracy(non_directional(a)) == pytest.approx(2 / 3)
    assert self_accuracy(np.array([[0.5, 0.5], [0.1, 0.2]])) == 1.0  # ties count
