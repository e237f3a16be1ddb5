"""What every claim check shares: the `takeaways:` thresholds, a Verdict, the Run a
check reads (params, results, thresholds), draws of a score per mode, grouped and
pooled effects, and which figures show a result."""

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from stitchkit.common.errors import UserError
from stitchkit.common.params_file import replicate_groups
from stitchkit.common.schema import Float, Fraction, parse_fraction, section
from stitchkit.report.run_results import RunResults, stitch_key
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
    """What a check reads. A panel with replicates (``replicate_of``) is read through
    ``panel``, ``draw``, ``anchor_draw`` and ``agreement_draw`` as one: its report keeps
    the stitches every replicate has, and a draw stacks the replicates' (R x (1 + B)),
    so a check's arithmetic carries them into the effect's interval
    (bootstrap.replicated_interval)."""

    params: dict
    results: RunResults
    thresholds: TakeawayThresholds

    @cached_property
    def replicates(self) -> dict[str, list[str]]:
        return replicate_groups(self.params)

    def panel(self, name: str) -> dict:
        """A panel's report; with replicates, only the stitches they all have."""
        names, report = self.replicates.get(name, [name]), self.results.panel(name)
        if len(names) == 1:
            return report
        keys = [{stitch_key(r) for r in self.results.panel(p)["results"]} for p in names]
        shared = set.intersection(*keys)
        return report | {"results": [r for r in report["results"] if stitch_key(r) in shared]}

    def _stacked(self, name: str, draw: Callable[[str], np.ndarray]) -> np.ndarray:
        names = self.replicates.get(name, [name])
        return draw(name) if len(names) == 1 else np.stack([draw(p) for p in names])

    def draw(self, name: str, result: dict, score: str) -> np.ndarray:
        """RunResults.draw, stacked over a panel's replicates."""
        return self._stacked(name, lambda p: self.results.draw(p, result, score))

    def agreement_draw(self, name: str, result: dict, split: str) -> np.ndarray:
        return self._stacked(name, lambda p: self.results.agreement_draw(p, result, split))

    def anchor_draw(self, name: str, role: str, split: str) -> np.ndarray:
        return self._stacked(name, lambda p: self.results.anchor_draw(p, role, split))

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
        """The panels (replicates aside: they are read with theirs) whose entry ``keep``s."""
        return [
            name
            for name, entry in (self.params.get("panels") or {}).items()
            if entry.get("replicate_of") is None and keep(entry)
        ]

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
            draws.setdefault(r["mode"], []).append(run.draw(name, r, score))
    return {mode: np.mean(d, axis=0) for mode, d in draws.items()}


def has_modes(report: dict, modes: Iterable[str]) -> bool:
    return set(modes) <= {r["mode"] for r in report["results"]}


def group(draws: dict[str, np.ndarray], modes: Iterable[str]) -> np.ndarray:
    return np.mean([draws[m] for m in modes], axis=0)


def group_gap(
    run: Run, panel: str, score: str, first: Collection[str], second: Collection[str]
) -> np.ndarray:
    """Draw of the mean of modes ``first`` minus the mean of modes ``second``."""
    draws = mode_draws(run, panel, run.panel(panel), score, (*first, *second))
    return group(draws, first) - group(draws, second)


def mean_of(draws: list[np.ndarray]) -> np.ndarray:
    """The mean of draws of several panels: a panel without replicates counts alike in
    every replicate row of one with them (panels pooled must have equally many)."""
    rows = {len(d) for d in draws if d.ndim == 2}
    if len(rows) > 1:
        raise UserError(
            f"panels pooled into one effect have {sorted(rows)} replicates; give each group "
            "as many replicates (`replicate_of`)"
        )
    return np.mean(np.broadcast_arrays(*draws), axis=0)


def pooled(run: Run, panels: list[str], effect: Callable[[str], np.ndarray]) -> np.ndarray:
    return mean_of([effect(p) for p in panels])


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
