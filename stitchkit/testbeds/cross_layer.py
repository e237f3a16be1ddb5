"""Cross-layer stitching metrics (Sec. 3.3): the accuracy matrix, its non-directional
version, and self-accuracy."""

import numpy as np


def accuracy_matrix(results: list[dict], mode: str, points: list[int]) -> np.ndarray:
    """A[i, j]: accuracy of front point points[i] stitched into end point points[j]."""
    index = {k: n for n, k in enumerate(points)}
    matrix = np.full((len(points), len(points)), np.nan)
    for r in results:
        if r["mode"] == mode and r["front_point"] in index and r["end_point"] in index:
            matrix[index[r["front_point"]], index[r["end_point"]]] = r["test_accuracy"]
    if np.isnan(matrix).any():
        raise ValueError(f"mode {mode!r} lacks some (front, end) pairs of points {points}")
    return matrix


def non_directional(matrix: np.ndarray) -> np.ndarray:
    """(A + A^T) / 2: the similarity of two layers averaged over both directions."""
    return (matrix + matrix.T) / 2


def self_accuracy(matrix: np.ndarray) -> float:
    """Share of rows (front points) whose most similar column (end point) is their own
    layer; a tie counts when the diagonal is among the row's maxima."""
    return float(np.mean(np.diag(matrix) >= matrix.max(axis=1)))
