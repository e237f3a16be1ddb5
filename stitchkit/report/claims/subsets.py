"""Sec. 3.2, Fig. 9: on class subsets task-loss stitches degrade more, and FuLA
leads at the fewest classes."""

from collections.abc import Callable

import numpy as np

from stitchkit.report.claims.base import (
    ALIGNMENT_MODES,
    MODE_NAMES,
    SERIES_FIGURE_SECTIONS,
    TASK_MODES,
    Run,
    Verdict,
    figures_of,
    group,
    has_modes,
)


def _by_classes(run: Run, series: str, mode: str) -> dict[int, np.ndarray]:
    report = run.results.series(series)
    return {
        r["classes"]: run.results.draw(f"subset-{series}", r, "test_accuracy")
        for r in report["results"]
        if r["mode"] == mode
    }


def _series(run: Run, keep: Callable[[dict], bool]) -> list[str]:
    modes = TASK_MODES + ALIGNMENT_MODES
    return [
        name
        for name, entry in (run.params.get("subsets") or {}).items()
        if keep(entry) and len(entry["classes"]) > 1 and has_modes(run.results.series(name), modes)
    ]


def subsets_task_modes_degrade_more(run: Run) -> Verdict:
    series, t = _series(run, run.cross_task), run.thresholds.subset_margin
    measurements = []
    for name in series:
        loss = {}
        for mode in TASK_MODES + ALIGNMENT_MODES:
            accuracy = _by_classes(run, name, mode)
            loss[mode] = accuracy[max(accuracy)] - accuracy[min(accuracy)]
        measurements += [
            run.measure(
                f"{name}: {MODE_NAMES[m]} - Hint/FuLA accuracy loss, most to fewest classes",
                loss[m] - group(loss, ALIGNMENT_MODES),
                run.results.n(f"subset-{name}", "clean"),
                t,
            )
            for m in TASK_MODES
        ]
    return Verdict(
        "subsets-task-modes-degrade-more",
        "Sec. 3.2, Fig. 9",
        "Trained on fewer classes (cross-task), TLM and SLM overfit more than Hint and FuLA: "
        "they lose more accuracy.",
        "in every cross-task class-subset series, SLM's and TLM's accuracy loss from the most "
        f"to the fewest classes, each, minus Hint/FuLA's mean loss > {t}",
        tuple(measurements),
        figures_of(run.params, series, SERIES_FIGURE_SECTIONS),
    )


def subsets_fula_leads_at_fewest_classes(run: Run) -> Verdict:
    series, t = _series(run, lambda e: True), run.thresholds.subset_lead_slack
    measurements = []
    for name in series:
        fewest = min(run.params["subsets"][name]["classes"])
        at = {m: _by_classes(run, name, m)[fewest] for m in TASK_MODES + ALIGNMENT_MODES}
        measurements += [
            run.measure(
                f"{name}: FuLA - {MODE_NAMES[m]} accuracy at k={fewest}",
                at["fula"] - at[m],
                run.results.n(f"subset-{name}", "clean"),
                -t,
            )
            for m in ("hint", *TASK_MODES)
        ]
    return Verdict(
        "subsets-fula-leads-at-fewest-classes",
        "Sec. 3.2, Fig. 9",
        "Trained on a single class, FuLA leads every other mode (cross- and same-task).",
        f"in every class-subset series, FuLA's accuracy at the fewest classes minus each of "
        f"Hint's, SLM's and TLM's > -{t}",
        tuple(measurements),
        figures_of(run.params, series, SERIES_FIGURE_SECTIONS),
    )
