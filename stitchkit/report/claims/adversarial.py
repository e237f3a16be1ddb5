"""Sec. 3.1 (adversarial training) and Fig. 6 (CKA against FuLA): fabricated
robustness and its clean cost, alignment interpolating, FuLA at or above Hint, CKA
ranking the configurations differently."""

import numpy as np

from stitchkit.report.claims.base import (
    ALIGNMENT_MODES,
    MODE_NAMES,
    TASK_MODES,
    Run,
    Verdict,
    alpha,
    figures_of,
    group_gap,
    has_modes,
    pooled,
)


def _non_robust_alpha_1(run: Run) -> list[str]:
    def keep(e: dict) -> bool:
        return alpha(e) == 1 and not run.robust(e["front"]) and not run.robust(e["end"])

    modes = TASK_MODES + ALIGNMENT_MODES
    return [p for p in run.panels(keep) if has_modes(run.panel(p), modes)]


def fabricated_robustness(run: Run) -> Verdict:
    panels, t = _non_robust_alpha_1(run), run.thresholds.fabricated_robustness
    measurements = tuple(
        run.measure(
            f"{p}: {MODE_NAMES[m]} - Hint/FuLA robust accuracy",
            group_gap(run, p, "robust_accuracy", (m,), ALIGNMENT_MODES),
            run.results.n(p, "robust"),
            t,
        )
        for p in panels
        for m in TASK_MODES
    )
    return Verdict(
        "fabricated-robustness",
        "Sec. 3.1, Figs. 4-5",
        "At alpha = 1 between non-robust models, SLM and TLM reach robust accuracy that "
        "Hint and FuLA do not: task-based stitching fabricates robustness.",
        f"in every such panel, SLM's and TLM's mean robust accuracy, each, minus Hint/FuLA's > {t}",
        measurements,
        figures_of(run.params, panels),
    )


def robustness_costs_clean_accuracy(run: Run) -> Verdict:
    panels, t = _non_robust_alpha_1(run), run.thresholds.clean_cost
    measurements = tuple(
        run.measure(
            f"{p}: Hint/FuLA - {MODE_NAMES[m]} clean accuracy",
            group_gap(run, p, "test_accuracy", ALIGNMENT_MODES, (m,)),
            run.results.n(p, "clean"),
            t,
        )
        for p in panels
        for m in TASK_MODES
    )
    return Verdict(
        "robustness-costs-clean-accuracy",
        "Sec. 3.1, Figs. 4-5",
        "SLM and TLM pay for that robustness with clean accuracy.",
        f"in every such panel, Hint/FuLA's mean clean accuracy minus SLM's and minus TLM's > {t}",
        measurements,
        figures_of(run.params, panels),
    )


def _furthest_outside(run: Run, panel: str) -> np.ndarray:
    """Draw of how far any Hint/FuLA stitch's clean or robust accuracy lies outside the
    band of the front's and end's (0 inside it)."""
    report, worst = run.panel(panel), 0.0
    for score, split in (("test_accuracy", "clean"), ("robust_accuracy", "robust")):
        if split == "robust" and "robust" not in run.results.samples(panel).labels:
            continue
        a = run.anchor_draw(panel, "front", split)
        b = run.anchor_draw(panel, "end", split)
        for r in report["results"]:
            if r["mode"] in ALIGNMENT_MODES and r.get(score) is not None:
                x = run.draw(panel, r, score)
                worst = np.maximum(worst, np.maximum(np.minimum(a, b) - x, x - np.maximum(a, b)))
    return worst


def _exception(run: Run, entry: dict) -> bool:
    """Non-robust front into robust end at alpha = 1: Sec. 3.1's stated exception (Hint
    and FuLA fall to chance at the penultimate layer, Hint above FuLA in deep layers)."""
    return alpha(entry) == 1 and not run.robust(entry["front"]) and run.robust(entry["end"])


def alignment_interpolates(run: Run) -> Verdict:
    """Hint and FuLA stay within the band that the front and end models span."""
    t = run.thresholds.interpolation_slack
    panels = [
        p
        for p in run.panels(
            lambda e: alpha(e) is not None and not run.cross_task(e) and not _exception(run, e)
        )
        if has_modes(run.panel(p), ALIGNMENT_MODES)
    ]
    measurements = tuple(
        run.measure(
            f"{p}: Hint/FuLA furthest outside the front-end band",
            _furthest_outside(run, p),
            run.results.n(p, "clean"),
            t,
            above=False,
        )
        for p in panels
    )
    return Verdict(
        "alignment-interpolates",
        "Sec. 3.1, Figs. 4-5",
        "Hint and FuLA interpolate between the front and end models: their clean and robust "
        "accuracies stay between the two models'.",
        f"in every same-task adversarial panel (but non-robust -> robust at alpha = 1, the "
        f"paper's exception), no Hint/FuLA accuracy lies {t} or more outside the front's and "
        "end's",
        measurements,
        figures_of(run.params, panels),
    )


def fula_at_or_above_hint(run: Run) -> Verdict:
    t = run.thresholds.fula_vs_hint_slack
    panels = [
        p
        for p in run.panels(lambda e: alpha(e) is not None and not _exception(run, e))
        if has_modes(run.panel(p), ALIGNMENT_MODES)
    ]
    measurements = ()
    if panels:
        gap = pooled(
            run, panels, lambda p: group_gap(run, p, "test_accuracy", ("fula",), ("hint",))
        )
        measurements = (
            run.measure(
                f"mean over {len(panels)} adversarial panels: FuLA - Hint clean accuracy",
                gap,
                run.results.n(panels[0], "clean"),
                -t,
            ),
        )
    return Verdict(
        "fula-at-or-above-hint",
        "Sec. 3.1, Figs. 4-5",
        "FuLA's clean accuracy is at or above Hint's in most adversarial configurations.",
        f"over the adversarial panels (but the exception, non-robust -> robust at alpha = "
        f"1), FuLA's mean clean accuracy minus Hint's > -{t}",
        measurements,
        figures_of(run.params, panels),
    )


def cka_ranks_differently(run: Run) -> Verdict:
    from scipy.stats import kendalltau  # here: every stage imports this module's schema

    t, measurements, figures = run.thresholds.cka_rank_tau, [], []
    for name in run.params.get("similarities") or {}:
        report = run.results.similarity(name)
        configs = report["configurations"]
        if len(configs) < 3:
            continue
        figures.append(name)
        # the claim is the penultimate layer's (Fig. 6): the deepest point that every
        # configuration's panel stitched at
        point = max(set.intersection(*({r["point"] for r in rows} for rows in configs.values())))
        cka = [next(r["cka"] for r in rows if r["point"] == point) for rows in configs.values()]
        # CKA is of the panels' own model pairs, so FuLA's draws are theirs too (a
        # panel's replicates aside)
        fula, n = [], 0
        for label in configs:
            panel = report["panels"][label]
            result = next(
                r
                for r in run.results.panel(panel)["results"]
                if r["mode"] == report["fula_mode"] and r["front_point"] == point
            )
            fula.append(run.results.draw(panel, result, "robust_accuracy"))
            n = run.results.n(panel, "robust")
        draws = np.array(fula)
        tau = np.array([kendalltau(cka, draws[:, b]).statistic for b in range(draws.shape[1])])
        measurements.append(
            run.measure(
                f"{name}: Kendall tau of CKA and FuLA robust accuracy at point {point}",
                np.nan_to_num(tau, nan=0.0),
                n,
                t,
                above=False,
            )
        )
    return Verdict(
        "cka-ranks-differently",
        "Sec. 3.1, Fig. 6",
        "CKA and FuLA rank the robustness configurations differently at the penultimate layer.",
        f"the Kendall tau between the configurations' CKA and FuLA robust accuracy at the "
        f"figure's deepest point (the penultimate layer) < {t} (FuLA resampled over its "
        "attacked images, CKA held at its value)",
        tuple(measurements),
        tuple(figures),
    )
