"""v2, information stitching: on IRIs FuLA separates a biased front from an unbiased
one, where natural data hides the bias."""

import numpy as np

from stitchkit.report.claims.base import Run, Verdict, mean_of


def _information_figures(run: Run) -> list[str]:
    return [
        name
        for name, entry in (run.params.get("agreement_figures") or {}).items()
        if {"cross-seed", "cross-bias"} <= set(entry.get("columns") or {})
    ]


def _deepest_agreement(run: Run, column, which: int, mode: str) -> tuple[int, np.ndarray, int]:
    """(deepest end point, draw of its agreement averaged over the column's fronts, n)
    for the natural (which 0) or IRI (1) panels of a figure column, on the test images
    of the panel's data: with their class's marker on shortcut data, as the authors'
    cross-bias test set (figures.panel_split)."""
    pairs = column if isinstance(column[0], list | tuple) else [column]
    draws, point, n = [], 0, 0
    for pair in pairs:
        panel = pair[which]
        split = "shortcut" if "shortcut" in run.results.samples(panel).labels else "clean"
        rows = [r for r in run.panel(panel)["results"] if r["mode"] == mode]
        deepest = max(rows, key=lambda r: r["end_point"])
        point, n = deepest["end_point"], run.results.n(panel, split)
        draws.append(run.agreement_draw(panel, deepest, split))
    return point, mean_of(draws), n


def _bias_gap(run: Run, figure: str, which: int, mode: str) -> tuple[int, np.ndarray, int]:
    """Cross-seed minus cross-bias agreement at the deepest point: (point, draw, n)."""
    columns = run.params["agreement_figures"][figure]["columns"]
    point, seed, n = _deepest_agreement(run, columns["cross-seed"], which, mode)
    _, bias, _ = _deepest_agreement(run, columns["cross-bias"], which, mode)
    return point, seed - bias, n


def iris_fula_separates_bias(run: Run) -> Verdict:
    t, figures, measurements = run.thresholds.iri_separation, _information_figures(run), []
    for figure in figures:
        point, fula, n = _bias_gap(run, figure, 1, "fula")
        _, tlm, _ = _bias_gap(run, figure, 1, "tlm")
        label = f"{figure} p{point} on IRIs: cross-seed minus cross-bias agreement"
        measurements += [
            run.measure(f"{label}, FuLA", fula, n, t),
            run.measure(f"{label}, TLM", tlm, n, t, above=False),
        ]
    return Verdict(
        "iris-fula-separates-bias",
        "v2, information stitching",
        "On IRIs, FuLA's agreement separates a cross-bias front from a cross-seed one at "
        "the deepest point, and TLM's does not.",
        f"on IRIs at the deepest point, cross-seed minus cross-bias agreement > {t} for FuLA "
        f"and < {t} for TLM",
        tuple(measurements),
        tuple(figures),
    )


def natural_data_hides_bias(run: Run) -> Verdict:
    figures, measurements = _information_figures(run), []
    for figure in figures:
        point, natural, n = _bias_gap(run, figure, 0, "fula")
        _, iris, _ = _bias_gap(run, figure, 1, "fula")
        measurements.append(
            run.measure(
                f"{figure} p{point}: FuLA's cross-seed minus cross-bias agreement, IRIs minus "
                "natural images",
                iris - natural,
                n,
                run.thresholds.iri_separation,
            )
        )
    return Verdict(
        "natural-data-hides-bias",
        "v2, information stitching",
        "On natural images the cross-bias front looks closer to cross-seed than on IRIs: "
        "standard stitching hides the bias.",
        "at the deepest point, FuLA's cross-seed minus cross-bias agreement is larger on IRIs "
        f"than on natural images by > {run.thresholds.iri_separation}",
        tuple(measurements),
        tuple(figures),
    )
