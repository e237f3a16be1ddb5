"""Stitches a suite computes twice, and stitches no figure draws: the waste a
params.yaml can hold. benchmarks/suite_cost.py prints both in FLOPs; tests/test_suites.py
keeps the paper suite free of them.

A stitch computes the same as another when its models, data, point pair, recipe,
training mix (alpha = 0 trains as no adversarial section does), IRIs and mode settings
are equal: a stitch does not depend on which others share its panel
(tests/test_stitching.py), so a figure may read a shared one where it is trained.
"""

from dataclasses import dataclass

from stitchkit.pipeline.stage_cost import panel_stitch_flops
from stitchkit.report.params import agreement_figure_job, cross_layer_figure_job, grid_job
from stitchkit.stitching.params import PanelJob, panel_job
from stitchkit.testbeds.params import cka_figure_job, similarity_job


@dataclass(frozen=True)
class StitchRef:
    """One stitch of a suite: its panel, mode and (front point, end point)."""

    panel: str
    mode: str
    pair: tuple[int, int]

    def flops(self, params: dict) -> float:
        return panel_stitch_flops(params, self.panel, self.pair, self.mode)


def _panel_names(params: dict) -> list[str]:
    return [*(params.get("panels") or {}), *(params.get("iri_panels") or {})]


def _identity(job: PanelJob, pair: tuple[int, int], settings: dict) -> tuple:
    mix = job.adversarial if job.adversarial and job.adversarial.alpha > 0 else None
    iris = tuple(sorted(job.iris.items())) if job.iris else None
    mode = tuple(sorted((k, str(v)) for k, v in settings.items()))
    return job.front, job.end, job.data, pair, job.recipe, mix, iris, mode


def repeats(params: dict) -> list[list[StitchRef]]:
    """Groups of two or more stitches that compute the same, in params order."""
    groups: dict[tuple, list[StitchRef]] = {}
    for name in _panel_names(params):
        job = panel_job(params, name)
        for pair in job.pairs:
            for mode, settings in job.modes.items():
                ref = StitchRef(name, mode, pair)
                groups.setdefault(_identity(job, pair, settings), []).append(ref)
    return [group for group in groups.values() if len(group) > 1]


def drawn(params: dict) -> set[tuple[str, str]]:
    """The (panel, mode) pairs a figure draws: grids, cross-layer figures, Fig. 6's
    similarities, v2's agreement and CKA figures (each draws every point of a panel)."""
    out: set[tuple[str, str]] = set()

    def draw(panels, modes) -> None:  # no modes: every one but DM (figures.style.drawn_modes)
        for panel in panels:
            every = panel_job(params, panel).modes.items()
            chosen = (
                [m for m, _ in modes] if modes else [m for m, s in every if s["objective"] != "dm"]
            )
            out.update((panel, mode) for mode in chosen)

    for name in params.get("grids") or {}:
        job = grid_job(params, name)
        draw([panel for row in job.cells for cell in row for panel in cell], job.modes)
    for name in params.get("cross_layer_figures") or {}:
        job = cross_layer_figure_job(params, name)
        draw(list(job.rows.values()), job.modes)
    for name in params.get("agreement_figures") or {}:
        job = agreement_figure_job(params, name)
        columns = [column for row in job.rows for column in row.columns.values()]
        draw([panel for column in columns for pair in column for panel in pair], job.modes)
    for name in params.get("similarities") or {}:
        job = similarity_job(params, name)
        out.update((panel.name, mode) for panel in job.panels.values() for mode in ("dm", job.mode))
    for name in params.get("cka_figures") or {}:
        job = cka_figure_job(params, name)
        pairs = [pair for column in job.columns.values() for pair in column]
        out.update((panel.name, job.mode) for pair in pairs for panel in pair)
    return out


def undrawn(params: dict) -> list[StitchRef]:
    """The stitches of every panel whose (panel, mode) no figure draws."""
    seen = drawn(params)
    return [
        StitchRef(name, mode, pair)
        for name in _panel_names(params)
        for job in [panel_job(params, name)]
        for mode in job.modes
        if (name, mode) not in seen
        for pair in job.pairs
    ]
