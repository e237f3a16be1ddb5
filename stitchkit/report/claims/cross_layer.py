"""Sec. 3.3, Figs. 10-11: FuLA is directional, averaging raises self-accuracy, and
FuLA's terms move the directional gap gradually."""

import math

import numpy as np

from stitchkit.report.claims.base import (
    Run,
    Verdict,
    figures_of,
    has_modes,
)


def _cross_layer_panels(run: Run) -> list[str]:
    def keep(e: dict) -> bool:
        return "end_points" in e and list(e["front_points"]) == list(e["end_points"])

    return run.panels(keep)


def directional_gap(matrix: np.ndarray) -> np.ndarray | float:
    """Mean accuracy of deep -> shallow pairs (front deeper: below the diagonal) minus
    that of shallow -> deep pairs (above it); over the first two axes of a matrix of
    draws (points x points x draw), a draw."""
    below, above = np.tril_indices(len(matrix), -1), np.triu_indices(len(matrix), 1)
    return matrix[below].mean(0) - matrix[above].mean(0)


def _matrix(run: Run, panel: str, mode: str) -> np.ndarray:
    """points x points x draw: the accuracy draws of a cross-layer panel's mode."""
    points = list(run.entry(panel)["front_points"])
    index = {k: n for n, k in enumerate(points)}
    cells: dict[tuple[int, int], np.ndarray] = {}
    for r in run.panel(panel)["results"]:
        if r["mode"] == mode and r["front_point"] in index and r["end_point"] in index:
            cell = index[r["front_point"]], index[r["end_point"]]
            cells[cell] = run.draw(panel, r, "test_accuracy")
    if len(cells) < len(points) ** 2:
        raise ValueError(f"mode {mode!r} of {panel} lacks some (front, end) pairs of {points}")
    return np.array([[cells[i, j] for j in range(len(points))] for i in range(len(points))])


def shortfall(matrix: np.ndarray) -> np.ndarray | float:
    """How far layers miss themselves: the mean over rows (front points) of how much the
    row's best other column beats its own layer, 0 where the diagonal is the maximum;
    over the first two axes of a matrix of draws, a draw. 0 exactly when self-accuracy
    is 1; unlike self-accuracy, it moves with the accuracies."""
    n = len(matrix)
    diagonal = matrix[np.arange(n), np.arange(n)]
    others = np.where(
        np.eye(n, dtype=bool).reshape(n, n, *[1] * (matrix.ndim - 2)), -np.inf, matrix
    )
    return np.maximum(others.max(axis=1) - diagonal, 0.0).mean(0)


def _panel_modes(report: dict) -> list[str]:
    return list(dict.fromkeys(r["mode"] for r in report["results"]))


def fula_directional(run: Run) -> Verdict:
    t = run.thresholds.directionality
    panels = [p for p in _cross_layer_panels(run) if has_modes(run.panel(p), ["fula"])]
    measurements = tuple(
        run.measure(
            f"{p}: FuLA deep -> shallow minus shallow -> deep accuracy",
            directional_gap(_matrix(run, p, "fula")),
            run.results.n(p, "clean"),
            t,
        )
        for p in panels
    )
    return Verdict(
        "fula-directional",
        "Sec. 3.3, Figs. 10-11",
        "FuLA is directional: stitching deep into shallow layers scores above shallow into deep.",
        f"in every cross-layer panel, FuLA's mean deep -> shallow accuracy minus its mean "
        f"shallow -> deep accuracy > {t}",
        measurements,
        figures_of(run.params, panels),
    )


def averaging_raises_self_accuracy(run: Run) -> Verdict:
    measurements, panels, measured = [], [], False
    for p in _cross_layer_panels(run):
        falls, room = [], False  # room: a layer that misses itself, to be raised
        for mode in _panel_modes(run.panel(p)):
            if mode == "dm":
                continue
            matrix = _matrix(run, p, mode)
            directional = shortfall(matrix)
            falls.append(directional - shortfall((matrix + matrix.swapaxes(0, 1)) / 2))
            room |= directional[0] > 0
        measured |= bool(falls)
        if room:  # a panel whose every layer already matches itself says nothing
            panels.append(p)
            measurements.append(
                run.measure(
                    f"{p}: shortfall of self-matching, directional minus averaged, mean of "
                    f"{len(falls)} trained modes",
                    np.mean(falls, axis=0),
                    run.results.n(p, "clean"),
                    0.0,
                )
            )
    return Verdict(
        "averaging-raises-self-accuracy",
        "Sec. 3.3, Fig. 10",
        "Averaging both directions raises self-accuracy (how often a layer is most similar "
        "to itself).",
        "in every cross-layer panel where a layer misses itself, averaging both directions "
        "shrinks the shortfall (the mean over layers of how far the best other layer beats "
        "the layer itself), averaged over the trained modes: directional minus averaged > 0",
        tuple(measurements),
        figures_of(run.params, panels),
        unmeasured_reason="every layer already matches itself best: nothing to raise"
        if measured
        else "no result of this run plays the claim's part",
    )


def _fula_terms(mode: str, mode_entry: dict) -> float | None:
    """How many FuLA terms a mode uses (first-N: N; uniform: every point from the end
    point on, more than any first-N), None if not FuLA (a mode's objective is its name
    unless the entry names one) or weighted otherwise."""
    if (mode_entry.get("objective") or mode) != "fula":
        return None
    weights = mode_entry.get("weights", "uniform")
    if isinstance(weights, str) and weights.startswith("first-"):
        return int(weights.removeprefix("first-"))
    return math.inf if weights in (None, "uniform") else None


def fula_terms_move_gradually(run: Run) -> Verdict:
    t, measurements, panels = run.thresholds.gradual_slack, [], []
    for p in _cross_layer_panels(run):
        modes = run.entry(p).get("modes") or {}
        terms = {m: _fula_terms(m, e or {}) for m, e in modes.items()}
        ladder = [m for n, m in sorted((n, m) for m, n in terms.items() if n is not None)]
        if len(ladder) < 3:
            continue
        panels.append(p)
        gaps = [directional_gap(_matrix(run, p, m)) for m in ladder]
        n = run.results.n(p, "clean")
        steps = np.min([b - a for a, b in zip(gaps, gaps[1:], strict=False)], axis=0)
        measurements += [
            run.measure(
                f"{p}: directional gap, {ladder[-1]} minus {ladder[0]}", gaps[-1] - gaps[0], n, 0.0
            ),
            run.measure(f"{p}: smallest change of the gap as a term is added", steps, n, -t),
        ]
    return Verdict(
        "fula-terms-move-gradually",
        "Sec. 3.3, Fig. 11",
        "Adding FuLA's deeper terms one at a time moves the cross-layer matrix gradually "
        "towards directionality.",
        f"the directional gap rises from the fewest terms to all of them (> 0) and never "
        f"falls by {t} or more as a term is added",
        tuple(measurements),
        figures_of(run.params, panels),
    )
