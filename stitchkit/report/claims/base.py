"""What every claim check shares: the `takeaways:` thresholds, a Verdict, the Run a
check reads (params, results, thresholds), draws of a score per mode, grouped and
pooled effects, and which figures show a result."""

from collections.abc import Callable, Collection, Iterable, Iterator
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

    def measure(
        self, label: str, draw: np.ndarray, n: int, threshold: float, above: bool = True
    ) -> Measurement:
        effect = at_resolution(self.results.interval(draw, n), self.results.confidence)
        return Measurement(label, effect, threshold, above)


def alpha(entry: dict) -> float | None:
    """A panel's share of adversarial examples; None for a clean panel."""
    adversarial = entry.get("adversarial")
    return None if adversarial is None else parse_fraction(adversarial.get("alpha", 0.5))


def mode_draws(
    run: Run, name: str, report: dict, score: str, modes: Collection[str]
) -> dict[str, np.ndarray]:
    """Per mode of ``modes`` in the report, the draw of ``score``'s mean over its
    stitches (``name``: the panel, or subset-<series>)."""
    draws: dict[str, list[np.ndarray]] = {}
    for r in report["results"]:
        if r["mode"] in modes and r.get(score) is not None:
            draws.setdefault(r["mode"], []).append(run.results.draw(name, r, score))
    return {mode: np.mean(d, axis=0) for mode, d in draws.items()}


def has_modes(report: dict, modes: Iterable[str]) -> bool:
    return set(modes) <= {r["mode"] for r in report["results"]}


def group(draws: dict[str, np.ndarray], modes: Iterable[str]) -> np.ndarray:
    return np.mean([draws[m] for m in modes], axis=0)


def group_gap(
    run: Run, panel: str, score: str, first: Collection[str], second: Collection[str]
) -> np.ndarray:
    """Draw of the mean of modes ``first`` minus the mean of modes ``second``."""
    draws = mode_draws(run, panel, run.results.panel(panel), score, (*first, *second))
    return group(draws, first) - group(draws, second)


def pooled(run: Run, panels: list[str], effect: Callable[[str], np.ndarray]) -> np.ndarray:
    return np.mean([effect(p) for p in panels], axis=0)


def strings_in(node: object) -> Iterator[str]:
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


def figures_of(
    params: dict, names: Iterable[str], sections: Iterable[str] = PANEL_FIGURE_SECTIONS
) -> tuple[str, ...]:
    """The figures (by name, under reports/figures/) of ``sections`` that draw any of
    ``names`` (panels, or class-subset series with SERIES_FIGURE_SECTIONS)."""
    names = set(names)
    return tuple(
        figure
        for section_name in sections
        for figure, entry in (params.get(section_name) or {}).items()
        if names & set(strings_in(entry))
    )
