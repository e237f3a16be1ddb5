"""The papers' claims as checks over one run's results (the `takeaways` stage).

A check finds the results that play its claim's part from params.yaml itself (an
adversarial panel at alpha = 1 between two models trained without adversarial
training, a cross-task panel on shortcut data, a cross-layer panel, ...), compares the
numbers the claim is about against a threshold of `takeaways:`, and gives a verdict:
holds, does not hold, or not measured by this suite (no result plays the part).
Results are read as the stages wrote them (reports/stitch, subset, similarity);
accuracies and agreements are fractions.
"""

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stitchkit.cross_layer import accuracy_matrix, non_directional, self_accuracy
from stitchkit.replicates import mean_panel_report
from stitchkit.schema import Float, Fraction, parse_fraction, section

HOLDS, FAILS, UNMEASURED = "holds", "does not hold", "not measured by this suite"
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
    """One claim judged on this run: ``compared`` names the numbers, ``rule`` says
    what holding means with the threshold's value, ``figures`` draw the results."""

    check: str
    section: str
    claim: str
    verdict: str
    rule: str
    compared: dict[str, float]
    figures: tuple[str, ...] = ()


class RunResults:
    """The reports a run's stages wrote under ``root`` (reports/), read once each."""

    def __init__(self, root: Path):
        self.root, self._read = Path(root), {}

    def _json(self, folder: str, name: str) -> dict:
        path = self.root / folder / f"{name}.json"
        if path not in self._read:
            self._read[path] = json.loads(path.read_text())
        return self._read[path]

    def panel(self, name: str) -> dict:
        return self._json("stitch", name)

    def series(self, name: str) -> dict:
        return self._json("subset", name)

    def similarity(self, name: str) -> dict:
        return self._json("similarity", name)

    def cka(self, name: str) -> dict:
        return self._json("cka", name)


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


def alpha(entry: dict) -> float | None:
    """A panel's share of adversarial examples; None for a clean panel."""
    adversarial = entry.get("adversarial")
    return None if adversarial is None else parse_fraction(adversarial.get("alpha", 0.5))


def mode_means(report: dict, key: str, modes) -> dict[str, float]:
    """Per mode of ``modes`` in the report, the mean of ``key`` over its stitches."""
    values: dict[str, list[float]] = {}
    for r in report["results"]:
        if r["mode"] in modes and r.get(key) is not None:
            values.setdefault(r["mode"], []).append(r[key])
    return {mode: float(np.mean(v)) for mode, v in values.items()}


def _has_modes(report: dict, modes) -> bool:
    return set(modes) <= {r["mode"] for r in report["results"]}


def _group_mean(means: dict[str, float], modes) -> float:
    return float(np.mean([means[m] for m in modes]))


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


def _verdict(ok: bool, measured: bool = True) -> str:
    return (HOLDS if ok else FAILS) if measured else UNMEASURED


# -- Sec. 3.1: adversarial training ---------------------------------------------------


def _non_robust_alpha_1(run: Run) -> list[str]:
    def keep(e):
        return alpha(e) == 1 and not run.robust(e["front"]) and not run.robust(e["end"])

    modes = TASK_MODES + ALIGNMENT_MODES
    return [p for p in run.panels(keep) if _has_modes(run.results.panel(p), modes)]


def fabricated_robustness(run: Run) -> Verdict:
    panels, t = _non_robust_alpha_1(run), run.thresholds.fabricated_robustness
    compared, ok = {}, True
    for p in panels:
        means = mode_means(run.results.panel(p), "robust_accuracy", TASK_MODES + ALIGNMENT_MODES)
        task, align = _group_mean(means, TASK_MODES), _group_mean(means, ALIGNMENT_MODES)
        compared |= {f"{p} SLM/TLM robust": task, f"{p} Hint/FuLA robust": align}
        ok &= task - align >= t
    return Verdict(
        "fabricated-robustness",
        "Sec. 3.1, Figs. 4-5",
        "At alpha = 1 between non-robust models, SLM and TLM reach robust accuracy that "
        "Hint and FuLA do not: task-based stitching fabricates robustness.",
        _verdict(ok, bool(panels)),
        f"in every such panel, SLM/TLM's mean robust accuracy exceeds Hint/FuLA's by >= {t}",
        compared,
        figures_of(run.params, panels),
    )


def robustness_costs_clean_accuracy(run: Run) -> Verdict:
    panels, t = _non_robust_alpha_1(run), run.thresholds.clean_cost
    compared, ok = {}, True
    for p in panels:
        means = mode_means(run.results.panel(p), "test_accuracy", TASK_MODES + ALIGNMENT_MODES)
        task, align = _group_mean(means, TASK_MODES), _group_mean(means, ALIGNMENT_MODES)
        compared |= {f"{p} SLM/TLM clean": task, f"{p} Hint/FuLA clean": align}
        ok &= align - task >= t
    return Verdict(
        "robustness-costs-clean-accuracy",
        "Sec. 3.1, Figs. 4-5",
        "SLM and TLM pay for that robustness with clean accuracy.",
        _verdict(ok, bool(panels)),
        f"in every such panel, Hint/FuLA's mean clean accuracy exceeds SLM/TLM's by >= {t}",
        compared,
        figures_of(run.params, panels),
    )


def alignment_interpolates(run: Run) -> Verdict:
    """Hint and FuLA stay within the band that the front and end models span."""
    t = run.thresholds.interpolation_slack
    panels = [
        p
        for p in run.panels(lambda e: alpha(e) is not None and not run.cross_task(e))
        if _has_modes(run.results.panel(p), ALIGNMENT_MODES)
    ]
    compared = {}
    for p in panels:
        report, worst = run.results.panel(p), 0.0
        bands = {
            "test_accuracy": (report["front_accuracy"], report["end_accuracy"]),
            "robust_accuracy": (report["front_robust_accuracy"], report["end_robust_accuracy"]),
        }
        for r in report["results"]:
            for key, (a, b) in bands.items():
                if r["mode"] in ALIGNMENT_MODES and r.get(key) is not None:
                    worst = max(worst, min(a, b) - r[key], r[key] - max(a, b))
        compared[f"{p} furthest outside"] = worst
    return Verdict(
        "alignment-interpolates",
        "Sec. 3.1, Figs. 4-5",
        "Hint and FuLA interpolate between the front and end models: their clean and robust "
        "accuracies stay between the two models'.",
        _verdict(all(v <= t for v in compared.values()), bool(panels)),
        f"in every same-task adversarial panel, no Hint/FuLA accuracy lies more than {t} "
        "outside the front's and end's",
        compared,
        figures_of(run.params, panels),
    )


def fula_at_or_above_hint(run: Run) -> Verdict:
    t = run.thresholds.fula_vs_hint_slack
    panels = [
        p
        for p in run.panels(lambda e: alpha(e) is not None)
        if _has_modes(run.results.panel(p), ALIGNMENT_MODES)
    ]
    compared = {}
    for p in panels:
        means = mode_means(run.results.panel(p), "test_accuracy", ALIGNMENT_MODES)
        compared[f"{p} FuLA - Hint"] = means["fula"] - means["hint"]
    share = float(np.mean([v >= -t for v in compared.values()])) if panels else 0.0
    return Verdict(
        "fula-at-or-above-hint",
        "Sec. 3.1, Figs. 4-5",
        "FuLA's clean accuracy is at or above Hint's in most adversarial configurations.",
        _verdict(share > 0.5, bool(panels)),
        f"in more than half the adversarial panels, FuLA's mean clean accuracy >= Hint's - {t}",
        compared | {"share of panels": share},
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


def shortcuts_exploited(run: Run) -> Verdict:
    panels, t = _cross_task_shortcut_panels(run), run.thresholds.shortcut_gain
    compared = {}
    for p in panels:
        report = run.results.panel(p)
        shortcut = mode_means(report, "shortcut_test_accuracy", TASK_MODES)
        clean = mode_means(report, "test_accuracy", TASK_MODES)
        compared[f"{p} SLM/TLM shortcut - clean"] = _group_mean(shortcut, TASK_MODES) - (
            _group_mean(clean, TASK_MODES)
        )
    mean = float(np.mean(list(compared.values()))) if panels else 0.0
    return Verdict(
        "shortcuts-exploited",
        "Sec. 3.2, Fig. 8",
        "In cross-task stitching on shortcut data, SLM and TLM score higher on the shortcut "
        "test than on clean data.",
        _verdict(mean >= t, bool(panels)),
        f"over the cross-task shortcut panels, SLM/TLM's shortcut-test accuracy exceeds their "
        f"clean accuracy by >= {t} on average",
        compared | {"mean": mean},
        figures_of(run.params, panels),
    )


def shortcuts_cost_clean_accuracy(run: Run) -> Verdict:
    panels, t = _cross_task_shortcut_panels(run), run.thresholds.clean_cost
    compared = {}
    for p in panels:
        means = mode_means(run.results.panel(p), "test_accuracy", TASK_MODES + ALIGNMENT_MODES)
        compared[f"{p} Hint/FuLA - SLM/TLM clean"] = _group_mean(means, ALIGNMENT_MODES) - (
            _group_mean(means, TASK_MODES)
        )
    mean = float(np.mean(list(compared.values()))) if panels else 0.0
    return Verdict(
        "shortcuts-cost-clean-accuracy",
        "Sec. 3.2, Fig. 8",
        "There, SLM and TLM score lower on clean data than Hint and FuLA.",
        _verdict(mean >= t, bool(panels)),
        f"over the cross-task shortcut panels, Hint/FuLA's clean accuracy exceeds SLM/TLM's "
        f"by >= {t} on average",
        compared | {"mean": mean},
        figures_of(run.params, panels),
    )


def _by_classes(report: dict, mode: str) -> dict[int, float]:
    return {r["classes"]: r["test_accuracy"] for r in report["results"] if r["mode"] == mode}


def _series(run: Run, keep: Callable[[dict], bool]) -> list[str]:
    modes = TASK_MODES + ALIGNMENT_MODES
    return [
        name
        for name, entry in (run.params.get("subsets") or {}).items()
        if keep(entry) and len(entry["classes"]) > 1 and _has_modes(run.results.series(name), modes)
    ]


def subsets_task_modes_degrade_more(run: Run) -> Verdict:
    series, t = _series(run, run.cross_task), run.thresholds.subset_margin
    compared, ok = {}, True
    for name in series:
        report = run.results.series(name)
        loss = {}
        for mode in ("slm", "tlm", "fula"):
            accuracy = _by_classes(report, mode)
            loss[mode] = accuracy[max(accuracy)] - accuracy[min(accuracy)]
            compared[f"{name} {MODE_NAMES[mode]} loss"] = loss[mode]
        ok &= min(loss["slm"], loss["tlm"]) >= loss["fula"] + t
    return Verdict(
        "subsets-task-modes-degrade-more",
        "Sec. 3.2, Fig. 9",
        "Trained on fewer classes (cross-task), TLM and SLM lose more accuracy than FuLA.",
        _verdict(ok, bool(series)),
        "in every cross-task class-subset series, SLM's and TLM's accuracy loss from the most "
        f"to the fewest classes exceeds FuLA's by >= {t}",
        compared,
        figures_of(run.params, series, SERIES_FIGURE_SECTIONS),
    )


def subsets_fula_leads_at_fewest_classes(run: Run) -> Verdict:
    series, t = _series(run, lambda e: True), run.thresholds.subset_lead_slack
    compared, ok = {}, True
    for name in series:
        report = run.results.series(name)
        fewest = min(run.params["subsets"][name]["classes"])
        at = {m: _by_classes(report, m)[fewest] for m in TASK_MODES + ALIGNMENT_MODES}
        best_other = max(v for m, v in at.items() if m != "fula")
        compared |= {
            f"{name} k={fewest} FuLA": at["fula"],
            f"{name} k={fewest} best other": best_other,
        }
        ok &= at["fula"] >= best_other - t
    return Verdict(
        "subsets-fula-leads-at-fewest-classes",
        "Sec. 3.2, Fig. 9",
        "Trained on a single class, FuLA leads every other mode (cross- and same-task).",
        _verdict(ok, bool(series)),
        f"in every class-subset series, FuLA's accuracy at the fewest classes >= the best of "
        f"Hint/SLM/TLM - {t}",
        compared,
        figures_of(run.params, series, SERIES_FIGURE_SECTIONS),
    )


# -- Sec. 3.3: cross-layer stitching ----------------------------------------------------


def _cross_layer_panels(run: Run) -> list[str]:
    def keep(e):
        return "end_points" in e and list(e["front_points"]) == list(e["end_points"])

    return run.panels(keep)


def directional_gap(matrix: np.ndarray) -> float:
    """Mean accuracy of deep -> shallow pairs (front deeper: below the diagonal) minus
    that of shallow -> deep pairs (above it)."""
    below, above = np.tril_indices_from(matrix, -1), np.triu_indices_from(matrix, 1)
    return float(matrix[below].mean() - matrix[above].mean())


def _matrix(run: Run, panel: str, mode: str) -> np.ndarray:
    points = list(run.entry(panel)["front_points"])
    return accuracy_matrix(run.results.panel(panel)["results"], mode, points)


def _panel_modes(report: dict) -> list[str]:
    return list(dict.fromkeys(r["mode"] for r in report["results"]))


def fula_directional(run: Run) -> Verdict:
    t = run.thresholds.directionality
    panels = [p for p in _cross_layer_panels(run) if _has_modes(run.results.panel(p), ["fula"])]
    compared = {f"{p} FuLA gap": directional_gap(_matrix(run, p, "fula")) for p in panels}
    return Verdict(
        "fula-directional",
        "Sec. 3.3, Figs. 10-11",
        "FuLA is directional: stitching deep into shallow layers scores above shallow into deep.",
        _verdict(all(v >= t for v in compared.values()), bool(panels)),
        f"in every cross-layer panel, FuLA's mean deep -> shallow accuracy exceeds its mean "
        f"shallow -> deep accuracy by >= {t}",
        compared,
        figures_of(run.params, panels),
    )


def averaging_raises_self_accuracy(run: Run) -> Verdict:
    panels, compared, rises, never_falls = _cross_layer_panels(run), {}, False, True
    room = False  # whether any directional self-accuracy is below 1: something to raise
    for p in panels:
        for mode in _panel_modes(run.results.panel(p)):
            if mode == "dm":
                continue
            matrix = _matrix(run, p, mode)
            directional, averaged = self_accuracy(matrix), self_accuracy(non_directional(matrix))
            compared |= {f"{p} {mode} self-accuracy": directional, f"{p} {mode} averaged": averaged}
            rises |= averaged > directional
            never_falls &= averaged >= directional
            room |= directional < 1
    return Verdict(
        "averaging-raises-self-accuracy",
        "Sec. 3.3, Fig. 10",
        "Averaging both directions raises self-accuracy (how often a layer is most similar "
        "to itself).",
        _verdict(rises and never_falls, room),
        "for every trained mode of every cross-layer panel, the non-directional self-accuracy "
        ">= the directional one, and above it for at least one (not measured when every "
        "directional self-accuracy is already 1)",
        compared,
        figures_of(run.params, panels),
    )


def _fula_terms(mode_entry: dict) -> float | None:
    """How many FuLA terms a mode uses (first-N: N; uniform: every point from the end
    point on, more than any first-N), None if not FuLA or weighted otherwise."""
    if mode_entry.get("objective", "fula") != "fula":
        return None
    weights = mode_entry.get("weights", "uniform")
    if isinstance(weights, str) and weights.startswith("first-"):
        return int(weights.removeprefix("first-"))
    return math.inf if weights in (None, "uniform") else None


def fula_terms_move_gradually(run: Run) -> Verdict:
    t, compared, ok, measured = run.thresholds.gradual_slack, {}, True, False
    for p in _cross_layer_panels(run):
        terms = {m: _fula_terms(e or {}) for m, e in (run.entry(p).get("modes") or {}).items()}
        ladder = sorted((n, m) for m, n in terms.items() if n is not None)
        if len(ladder) < 3:
            continue
        measured = True
        gaps = [directional_gap(_matrix(run, p, m)) for _, m in ladder]
        compared |= {f"{p} {m} gap": g for (_, m), g in zip(ladder, gaps, strict=True)}
        ok &= all(b - a >= -t for a, b in zip(gaps, gaps[1:], strict=False))
    return Verdict(
        "fula-terms-move-gradually",
        "Sec. 3.3, Fig. 11",
        "Adding FuLA's deeper terms one at a time moves the cross-layer matrix gradually "
        "towards directionality.",
        _verdict(ok, measured),
        f"the directional gap never falls by more than {t} as a term is added",
        compared,
        figures_of(run.params, _cross_layer_panels(run)) if measured else (),
    )


# -- Fig. 6: CKA against FuLA --------------------------------------------------------------


def cka_ranks_differently(run: Run) -> Verdict:
    from scipy.stats import kendalltau  # here: every stage imports this module's schema

    t, compared, taus = run.thresholds.cka_rank_tau, {}, []
    for name in run.params.get("similarities") or {}:
        configs = run.results.similarity(name)["configurations"]
        if len(configs) < 3:
            continue
        for n, point in enumerate(r["point"] for r in next(iter(configs.values()))):
            cka = [rows[n]["cka"] for rows in configs.values()]
            fula = [rows[n]["fula_robust_accuracy"] for rows in configs.values()]
            tau = kendalltau(cka, fula).statistic
            if not np.isnan(tau):
                compared[f"{name} p{point} tau"] = float(tau)
                taus.append(float(tau))
    mean = float(np.mean(taus)) if taus else 0.0
    return Verdict(
        "cka-ranks-differently",
        "Sec. 3.1, Fig. 6",
        "CKA and FuLA rank the robustness configurations differently at the penultimate layer.",
        _verdict(mean < t, bool(taus)),
        f"the mean Kendall tau between the configurations' CKA and FuLA robust accuracy "
        f"over the points is < {t}",
        compared | ({"mean tau": mean} if taus else {}),
        tuple(run.params.get("similarities") or ()) if taus else (),
    )


# -- v2: invariance-aware stitching -------------------------------------------------------


def _information_figures(run: Run) -> list[str]:
    return [
        name
        for name, entry in (run.params.get("agreement_figures") or {}).items()
        if {"cross-seed", "cross-bias"} <= set(entry.get("columns") or {})
    ]


def _column_report(run: Run, column, which: int) -> dict:
    """The natural (0) or IRI (1) report of a figure column, averaged over its fronts."""
    pairs = column if isinstance(column[0], list | tuple) else [column]
    return mean_panel_report([run.results.panel(pair[which]) for pair in pairs])


def _deepest_agreement(report: dict, mode: str) -> tuple[int, float]:
    rows = [r for r in report["results"] if r["mode"] == mode]
    deepest = max(rows, key=lambda r: r["end_point"])
    return deepest["end_point"], deepest["agreement"]["clean"]["agreement_prob"]


def _bias_gaps(run: Run, figure: str, which: int) -> dict[str, float]:
    columns = run.params["agreement_figures"][figure]["columns"]
    gaps = {}
    for mode in ("fula", "tlm"):
        point, seed = _deepest_agreement(_column_report(run, columns["cross-seed"], which), mode)
        _, bias = _deepest_agreement(_column_report(run, columns["cross-bias"], which), mode)
        name = f"{figure} p{point} {MODE_NAMES[mode]}"
        gaps |= {f"{name} seed": seed, f"{name} bias": bias}
    return gaps


def _gap(compared: dict[str, float], mode: str) -> float:
    seed = next(v for k, v in compared.items() if k.endswith(f"{mode} seed"))
    bias = next(v for k, v in compared.items() if k.endswith(f"{mode} bias"))
    return seed - bias


def iris_fula_separates_bias(run: Run) -> Verdict:
    t, figures = run.thresholds.iri_separation, _information_figures(run)
    compared, ok = {}, True
    for figure in figures:
        gaps = _bias_gaps(run, figure, 1)
        compared |= gaps
        ok &= _gap(gaps, "FuLA") >= t > _gap(gaps, "TLM")
    return Verdict(
        "iris-fula-separates-bias",
        "v2, information stitching",
        "On IRIs, FuLA's agreement separates a cross-bias front from a cross-seed one at "
        "the deepest point, and TLM's does not.",
        _verdict(ok, bool(figures)),
        f"on IRIs at the deepest point, cross-seed minus cross-bias agreement is >= {t} for "
        f"FuLA and < {t} for TLM",
        compared,
        tuple(figures),
    )


def natural_data_hides_bias(run: Run) -> Verdict:
    figures, compared, ok = _information_figures(run), {}, True
    for figure in figures:
        natural, iris = _bias_gaps(run, figure, 0), _bias_gaps(run, figure, 1)
        compared |= {f"{k} natural": v for k, v in natural.items() if "FuLA" in k}
        compared |= {f"{k} IRIs": v for k, v in iris.items() if "FuLA" in k}
        ok &= _gap(natural, "FuLA") < _gap(iris, "FuLA")
    return Verdict(
        "natural-data-hides-bias",
        "v2, information stitching",
        "On natural images the cross-bias front looks closer to cross-seed than on IRIs: "
        "standard stitching hides the bias.",
        _verdict(ok, bool(figures)),
        "at the deepest point, FuLA's cross-seed minus cross-bias agreement is smaller on "
        "natural images than on IRIs",
        compared,
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


def check_claims(
    params: dict, results: RunResults, thresholds: TakeawayThresholds
) -> list[Verdict]:
    """Every check of CHECKS on this run, in the papers' order."""
    run = Run(params, results, thresholds)
    return [check(run) for check in CHECKS]
