"""Sec. 3.2, Fig. 8: task-loss stitches exploit shortcuts, at a clean cost."""

import numpy as np

from stitchkit.report.claims.base import (
    ALIGNMENT_MODES,
    MODE_NAMES,
    TASK_MODES,
    Run,
    Verdict,
    figures_of,
    group_gap,
    has_modes,
    mode_draws,
    pooled,
)


def _cross_task_shortcut_panels(run: Run) -> list[str]:
    shortcuts = run.params.get("shortcuts") or {}
    modes = TASK_MODES + ALIGNMENT_MODES
    return [
        p
        for p in run.panels(lambda e: e["data"] in shortcuts and run.cross_task(e))
        if has_modes(run.panel(p), modes)
    ]


def shortcuts_exploited(run: Run) -> Verdict:
    panels, t = _cross_task_shortcut_panels(run), run.thresholds.shortcut_gain

    def gain(p: str, mode: str) -> np.ndarray:
        report = run.panel(p)
        shortcut = mode_draws(run, p, report, "shortcut_test_accuracy", (mode,))
        clean = mode_draws(run, p, report, "test_accuracy", (mode,))
        return shortcut[mode] - clean[mode]

    measurements = tuple(
        run.measure(
            f"mean over {len(panels)} cross-task shortcut panels: {MODE_NAMES[m]} shortcut - "
            "clean accuracy",
            pooled(run, panels, lambda p, m=m: gain(p, m)),
            run.results.n(panels[0], "clean"),
            t,
        )
        for m in (TASK_MODES if panels else ())
    )
    return Verdict(
        "shortcuts-exploited",
        "Sec. 3.2, Fig. 8",
        "In cross-task stitching on shortcut data, SLM and TLM score higher on the shortcut "
        "test than on clean data.",
        f"over the cross-task shortcut panels, SLM's and TLM's shortcut-test minus clean "
        f"accuracy, each, > {t} on average",
        measurements,
        figures_of(run.params, panels),
    )


def shortcuts_cost_clean_accuracy(run: Run) -> Verdict:
    panels, t = _cross_task_shortcut_panels(run), run.thresholds.clean_cost
    measurements = tuple(
        run.measure(
            f"mean over {len(panels)} cross-task shortcut panels: Hint/FuLA - {MODE_NAMES[m]} "
            "clean accuracy",
            pooled(
                run,
                panels,
                lambda p, m=m: group_gap(run, p, "test_accuracy", ALIGNMENT_MODES, (m,)),
            ),
            run.results.n(panels[0], "clean"),
            t,
        )
        for m in (TASK_MODES if panels else ())
    )
    return Verdict(
        "shortcuts-cost-clean-accuracy",
        "Sec. 3.2, Fig. 8",
        "There, SLM and TLM score lower on clean data than Hint and FuLA.",
        f"over the cross-task shortcut panels, Hint/FuLA's clean accuracy minus SLM's and "
        f"minus TLM's > {t} on average",
        measurements,
        figures_of(run.params, panels),
    )
