"""The papers' claims as checks over one run's results (the `takeaways` stage).

A check finds the results that play its claim's part from params.yaml itself (an
adversarial panel at alpha = 1 between two models trained without adversarial
training, a cross-task panel on shortcut data, a cross-layer panel, ...), computes the
claim's *effect* in each (a difference of accuracies or agreements, say), with its 95%
bootstrap interval over test images (run_results.py: paired across modes on the same
images), and judges it against a threshold of `takeaways:` (verdicts.py): holds,
contradicted or inconclusive; not measured when no result plays the part. A claim over
several panels holds only if every panel holds, and is contradicted if any is.
"""

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from stitchkit.common.schema import Float, Fraction, parse_fraction, section
from stitchkit.report.run_results import RunResults
from stitchkit.report.verdicts import (
    Measurement,
    at_resolution,
    combined,
    deciding,
    what_would_decide,
)

TASK_MODES, ALIGNMENT_MODES = ("slm", "tlm"), ("hint", "fula")
MODE_NAMES = {"dm": "DM", "hint": "Hint", "slm": "SLM", "tlm": "TLM", "fula": "FuLA"}


@section
class TakeawayThresholds:
    """params.yaml `takeaways:`, the margins each verdict is judged by (fractions of
    accuracy or agreement, but ``cka_rank_tau``, a Kendall tau)."""

    fabricated_robustness: Fraction = 0.05  # SLM/TLM robust accuracy over Hint/FuLA's
    clean_cost: Fraction = 0.02  # Hint/FuLA clean accuracy over SLM/TLM's
    interpolation_slack: Fraction = 0.05  # how far Hint/FuLA may leave the models' band
    fula_vs_hint_slack: Fraction = 0.01  # FuLA counts as at or above Hint within this
    shortcut_gain: Fraction = 0.02  # SLM/TLM shortcut-test over clean accuracy
    subset_margin: Fraction = 0.0  # SLM/TLM lose more than FuLA by at least this
    subset_lead_slack: Fraction = 0.0  # FuLA at the fewest classes within this of the best
    directionality: Fraction = 0.02  # deep -> shallow over shallow -> deep accuracy
    gradual_slack: Fraction = 0.02  # the directional gap may fall this much per added term
    cka_rank_tau: Float = 0.5  # CKA and FuLA rank configurations alike above this tau
    iri_separation: Fraction = 0.1  # cross-seed over cross-bias agreement on IRIs


@dataclass(frozen=True)
class Verdict:
    """One claim judged on this run: its measurements (an effect with its interval
    against the threshold, one per panel or figure), combined by verdicts.combined;
    ``rule`` says what holding means."""

    check: str
    section: str
    claim: str
    rule: str
    measurements: tuple[Measurement, ...]
    figures: tuple[str, ...] = ()
    unmeasured_reason: str = "no result of this run plays the claim's part"

    @property
    def verdict(self) -> str:
        return combined([m.verdict for m in self.measurements])

    @property
    def deciding(self) -> Measurement | None:
        """The measurement that decides the verdict (verdicts.deciding)."""
        return deciding(list(self.measurements))

    def note(self) -> str:
        """What decided the verdict, or what would."""
        m = self.deciding
        if m is None:
            return self.unmeasured_reason
        if self.verdict == "inconclusive":
            return f"{m.label}: {what_would_decide(m)}"
        return f"decided by {m.label}"


@dataclass(frozen=True)
class Run:
    params: dict
    results: RunResults
    thresholds: TakeawayThresholds

    def entry(self, panel: str) -> dict:
        return (self.params.get("panels") or {}).get(panel) or self.params["iri_panels"][panel]

    def robust(self, model: str) -> bool:
        return "adversarial" in (self.params["models"][model].get("train") or {})

    def task(self, model: str) -> str:
        """The dataset a model solves (a shortcut setting's source for a biased model)."""
        data = self.params["models"][model]["dataset"]
        return ((self.params.get("shortcuts") or {}).get(data) or {}).get("source", data)

    def cross_task(self, entry: dict) -> bool:
        return self.task(entry["front"]) != self.task(entry["end"])

    def panels(self, keep: Callable[[dict], bool]) -> list[str]:
        return [name for name, entry in (self.params.get("panels") or {}).items() if keep(entry)]

    def measure(self, label, draw, n: int, threshold: float, above: bool = True) -> Measurement:
        effect = at_resolution(self.results.interval(draw, n), self.results.confidence)
        return Measurement(label, effect, threshold, above)


def alpha(entry: dict) -> float | None:
    """A panel's share of adversarial examples; None for a clean panel."""
    adversarial = entry.get("adversarial")
    return None if adversarial is None else parse_fraction(adversarial.get("alpha", 0.5))


def mode_draws(run: Run, name: str, report: dict, score: str, modes) -> dict[str, np.ndarray]:
    """Per mode of ``modes`` in the report, the draw of ``score``'s mean over its
    stitches (``name``: the panel, or subset-<series>)."""
    draws: dict[str, list[np.ndarray]] = {}
    for r in report["results"]:
        if r["mode"] in modes and r.get(score) is not None:
            draws.setdefault(r["mode"], []).append(run.results.draw(name, r, score))
    return {mode: np.mean(d, axis=0) for mode, d in draws.items()}


def _has_modes(report: dict, modes) -> bool:
    return set(modes) <= {r["mode"] for r in report["results"]}


def _group(draws: dict[str, np.ndarray], modes) -> np.ndarray:
    return np.mean([draws[m] for m in modes], axis=0)


def strings_in(node) -> Iterator[str]:
    """Every string nested in a params.yaml entry (panel and series names among them)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from strings_in(value)


# the params sections whose figures draw panels, and those that draw class-subset series
# (a series may share a panel's name)
PANEL_FIGURE_SECTIONS = (
    "grids",
    "similarities",
    "cross_layer_figures",
    "agreement_figures",
    "cka_figures",
)
SERIES_FIGURE_SECTIONS = ("subset_figures",)


def figures_of(params: dict, names, sections=PANEL_FIGURE_SECTIONS) -> tuple[str, ...]:
    """The figures (by name, under reports/figures/) of ``sections`` that draw any of
    ``names`` (panels, or class-subset series with SERIES_FIGURE_SECTIONS)."""
    names = set(names)
    return tuple(
        figure
        for section_name in sections
        for figure, entry in (params.get(section_name) or {}).items()
        if names & set(strings_in(entry))
    )


# -- Sec. 3.1: adversarial training ---------------------------------------------------


def _non_robust_alpha_1(run: Run) -> list[str]:
    def keep(e):
        return alpha(e) == 1 and not run.robust(e["front"]) and not run.robust(e["end"])

    modes = TASK_MODES + ALIGNMENT_MODES
    return [p for p in run.panels(keep) if _has_modes(run.results.panel(p), modes)]


def _group_gap(run: Run, panel: str, score: str, first, second) -> np.ndarray:
    """Draw of the mean of modes ``first`` minus the mean of modes ``second``."""
    draws = mode_draws(run, panel, run.results.panel(panel), score, (*first, *second))
    return _group(draws, first) - _group(draws, second)


def fabricated_robustness(run: Run) -> Verdict:
    panels, t = _non_robust_alpha_1(run), run.thresholds.fabricated_robustness
    measurements = tuple(
        run.measure(
            f"{p}: {MODE_NAMES[m]} - Hint/FuLA robust accuracy",
            _group_gap(run, p, "robust_accuracy", (m,), ALIGNMENT_MODES),
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
            _group_gap(run, p, "test_accuracy", ALIGNMENT_MODES, (m,)),
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
    report, worst = run.results.panel(panel), 0.0
    for score, split in (("test_accuracy", "clean"), ("robust_accuracy", "robust")):
        if split == "robust" and "robust" not in run.results.samples(panel).labels:
            continue
        a = run.results.anchor_draw(panel, "front", split)
        b = run.results.anchor_draw(panel, "end", split)
        for r in report["results"]:
            if r["mode"] in ALIGNMENT_MODES and r.get(score) is not None:
                x = run.results.draw(panel, r, score)
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
        if _has_modes(run.results.panel(p), ALIGNMENT_MODES)
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
        if _has_modes(run.results.panel(p), ALIGNMENT_MODES)
    ]
    measurements = ()
    if panels:
        gap = _pooled(
            run, panels, lambda p: _group_gap(run, p, "test_accuracy", ("fula",), ("hint",))
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


# -- Sec. 3.2: shortcuts and class subsets --------------------------------------------


def _cross_task_shortcut_panels(run: Run) -> list[str]:
    shortcuts = run.params.get("shortcuts") or {}
    modes = TASK_MODES + ALIGNMENT_MODES
    return [
        p
        for p in run.panels(lambda e: e["data"] in shortcuts and run.cross_task(e))
        if _has_modes(run.results.panel(p), modes)
    ]


def _pooled(run: Run, panels: list[str], effect: Callable[[str], np.ndarray]) -> np.ndarray:
    return np.mean([effect(p) for p in panels], axis=0)


def shortcuts_exploited(run: Run) -> Verdict:
    panels, t = _cross_task_shortcut_panels(run), run.thresholds.shortcut_gain

    def gain(p, mode):
        report = run.results.panel(p)
        shortcut = mode_draws(run, p, report, "shortcut_test_accuracy", (mode,))
        clean = mode_draws(run, p, report, "test_accuracy", (mode,))
        return shortcut[mode] - clean[mode]

    measurements = tuple(
        run.measure(
            f"mean over {len(panels)} cross-task shortcut panels: {MODE_NAMES[m]} shortcut - "
            "clean accuracy",
            _pooled(run, panels, lambda p, m=m: gain(p, m)),
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
            _pooled(
                run,
                panels,
                lambda p, m=m: _group_gap(run, p, "test_accuracy", ALIGNMENT_MODES, (m,)),
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
        if keep(entry) and len(entry["classes"]) > 1 and _has_modes(run.results.series(name), modes)
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
                loss[m] - _group(loss, ALIGNMENT_MODES),
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


# -- Sec. 3.3: cross-layer stitching ----------------------------------------------------


def _cross_layer_panels(run: Run) -> list[str]:
    def keep(e):
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
    for r in run.results.panel(panel)["results"]:
        if r["mode"] == mode and r["front_point"] in index and r["end_point"] in index:
            cell = index[r["front_point"]], index[r["end_point"]]
            cells[cell] = run.results.draw(panel, r, "test_accuracy")
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
    panels = [p for p in _cross_layer_panels(run) if _has_modes(run.results.panel(p), ["fula"])]
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
        for mode in _panel_modes(run.results.panel(p)):
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


# -- Fig. 6: CKA against FuLA --------------------------------------------------------------


def cka_ranks_differently(run: Run) -> Verdict:
    from scipy.stats import kendalltau  # here: every stage imports this module's schema

    t, measurements, figures = run.thresholds.cka_rank_tau, [], []
    for name in run.params.get("similarities") or {}:
        report = run.results.similarity(name)
        configs = report["configurations"]
        if len(configs) < 3:
            continue
        figures.append(name)
        taus, n = [], 0
        for k, point in enumerate(r["point"] for r in next(iter(configs.values()))):
            cka = [rows[k]["cka"] for rows in configs.values()]
            fula = []
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
            taus.append([kendalltau(cka, draws[:, b]).statistic for b in range(draws.shape[1])])
        tau = np.nanmean(np.array(taus, dtype=float), axis=0)
        measurements.append(
            run.measure(
                f"{name}: mean Kendall tau of CKA and FuLA robust accuracy over points",
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
        f"the mean Kendall tau between the configurations' CKA and FuLA robust accuracy over "
        f"the points < {t} (FuLA resampled over its attacked images, CKA held at its value)",
        tuple(measurements),
        tuple(figures),
    )


# -- v2: invariance-aware stitching -------------------------------------------------------


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
    cross-bias test set (plotting.panel_split)."""
    pairs = column if isinstance(column[0], list | tuple) else [column]
    draws, point, n = [], 0, 0
    for pair in pairs:
        panel = pair[which]
        split = "shortcut" if "shortcut" in run.results.samples(panel).labels else "clean"
        rows = [r for r in run.results.panel(panel)["results"] if r["mode"] == mode]
        deepest = max(rows, key=lambda r: r["end_point"])
        point, n = deepest["end_point"], run.results.n(panel, split)
        draws.append(run.results.agreement_draw(panel, deepest, split))
    return point, np.mean(draws, axis=0), n


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


CHECKS = (
    fabricated_robustness,
    robustness_costs_clean_accuracy,
    alignment_interpolates,
    fula_at_or_above_hint,
    cka_ranks_differently,
    shortcuts_exploited,
    shortcuts_cost_clean_accuracy,
    subsets_task_modes_degrade_more,
    subsets_fula_leads_at_fewest_classes,
    fula_directional,
    averaging_raises_self_accuracy,
    fula_terms_move_gradually,
    iris_fula_separates_bias,
    natural_data_hides_bias,
)
# each check's claim name, in the papers' order
CLAIM_NAMES = tuple(check.__name__.replace("_", "-") for check in CHECKS)


def check_claims(
    params: dict, results: RunResults, thresholds: TakeawayThresholds
) -> list[Verdict]:
    """Every check of CHECKS on this run, in the papers' order."""
    run = Run(params, results, thresholds)
    return [check(run) for check in CHECKS]
