"""Every figure params.yaml lists, as drawing jobs for the `report` stage.

Each job's inputs (the JSON results of earlier stages, the shortcut datasets) are read
and its settings validated when the job is made, so a missing result stops the stage
before it draws anything. Output stems are under reports/figures/:
  <grid>               grids of stitching plots (Figs. 3, 4, 5, 8, 13-24)
  <similarity>         CKA and FuLA similarity on adversarial examples (Fig. 6)
  <shortcut examples>  example images of the shortcut settings (Figs. 7, 12)
  <subset figure>      class-subset series side by side (Figs. 9, 25-27)
  <cross-layer figure> cross-layer heatmaps, rows settings, columns modes (Figs. 10, 11)
  <agreement figure>   v2's agreement with the end model, natural data against IRIs
  <CKA figure>         v2's CKA and FuLA agreement, on natural images and on IRIs
  <IRI examples>       source images and their IRIs by depth
  panels/<panel>       one panel's stitching plot or cross-layer heatmaps
Stitching plots and class-subset plots shade each curve's 95% interval (bootstrap over
test images from the panels' per-sample outputs, `bootstrap:` settings).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

import numpy as np

from stages.reports import panel_report, read_report, series_report
from stitchkit.common.errors import UserError
from stitchkit.common.schema import validated
from stitchkit.data.prepared import PreparedDataset, prepared_path
from stitchkit.data.shortcuts import evaluation_split
from stitchkit.measures.bootstrap import BootstrapSettings, Resampler
from stitchkit.report import figures
from stitchkit.report.params import (
    agreement_figure_job,
    cross_layer_figure_job,
    grid_job,
    iri_examples_job,
    shortcut_examples_job,
    subset_figure_job,
)
from stitchkit.report.replicates import mean_panel_report
from stitchkit.report.run_results import RunResults, stitch_key
from stitchkit.testbeds.iris import source_images
from stitchkit.testbeds.params import cka_figure_job, similarity_job

FIGURES = Path("reports/figures")


@dataclass(frozen=True)
class FigureJob:
    """``draw()`` returns the matplotlib figure to save at ``stem``.{png,pdf}."""

    stem: Path
    draw: Callable


@cache
def _run_results(settings: BootstrapSettings) -> RunResults:
    return RunResults(Path("reports"), Resampler(settings))


def _bootstrap(params: dict) -> RunResults:
    """The run's results with the `bootstrap:` settings, one per settings."""
    return _run_results(validated(BootstrapSettings, params.get("bootstrap") or {}, "bootstrap"))


def interval_panel(params: dict, name: str) -> dict:
    """reports/stitch/<name>.json with every result's 95% intervals (from its samples)."""
    return _bootstrap(params).with_intervals(name, panel_report(name))


def interval_series(params: dict, name: str) -> dict:
    return _bootstrap(params).with_intervals(f"subset-{name}", series_report(name))


def grid_figure(params: dict, name: str) -> FigureJob:
    job = grid_job(params, name)
    cells = [
        [figures.merge_panels([interval_panel(params, p) for p in c]) for c in r] for r in job.cells
    ]
    draw = partial(
        figures.stitching_grid, cells, job.row_labels, job.column_labels, job.title, job.modes
    )
    return FigureJob(FIGURES / name, draw)


def similarity_figure(params: dict, name: str) -> FigureJob:
    job = similarity_job(params, name)
    path = Path("reports/similarity") / f"{name}.json"
    configs = read_report(path, f"similarity@{name}")["configurations"]
    return FigureJob(FIGURES / name, partial(figures.similarity_plot, configs, job.title))


def shortcut_example_figure(params: dict, name: str) -> FigureJob:
    settings, per_row = shortcut_examples_job(params, name)
    data = {s: PreparedDataset.load(prepared_path(s), f"shortcut@{s}") for s in settings}
    first = data[settings[0]]
    stamped = {s: evaluation_split(d, "shortcut")[0] for s, d in data.items()}
    draw = partial(
        figures.shortcut_examples,
        evaluation_split(first),
        stamped,
        first.class_names,
        min(per_row, first.num_classes),
    )
    return FigureJob(FIGURES / name, draw)


def subset_figure(params: dict, name: str) -> FigureJob:
    job = subset_figure_job(params, name)
    series = {label: interval_series(params, s) for label, s in job.series.items()}
    return FigureJob(FIGURES / name, partial(figures.class_subset_figure, series, job.title))


def cross_layer_figure(params: dict, name: str) -> FigureJob:
    job = cross_layer_figure_job(params, name)
    rows = {label: panel_report(panel) for label, panel in job.rows.items()}
    draw = partial(figures.cross_layer_figure, rows, job.title, job.modes)
    return FigureJob(FIGURES / name, draw)


def column_title(label: str, pairs) -> str:
    return label if len(pairs) == 1 else f"{label}\n(mean of {len(pairs)} fronts)"


def mean_reports(params: dict, pairs) -> tuple[dict, dict]:
    """(natural, IRI) panel reports of a column, each the mean over its fronts, every
    result with the 95% interval of its agreement probability per split (and of the
    excess, shortcut minus rolled) under ``intervals``: the draws of the fronts' stitches
    averaged, all on the same test images."""
    results = _bootstrap(params)
    reports = []
    for i in (0, 1):
        names = [pair[i] for pair in pairs]
        mean = mean_panel_report([panel_report(name) for name in names])
        splits = results.samples(names[0]).labels
        for r in mean["results"]:
            draws = {
                split: np.mean([results.agreement_draw(n, r, split) for n in names], axis=0)
                for split in splits
                if split in results.samples(names[0]).stitches[stitch_key(r)]
            }
            if {"shortcut", "rolled"} <= set(draws):
                draws["excess"] = draws["shortcut"] - draws["rolled"]
            r["intervals"] = {
                f"agreement_prob/{split}": results.interval(
                    draw, results.n(names[0], "shortcut" if split == "excess" else split)
                ).as_dict()
                for split, draw in draws.items()
            }
        reports.append(mean)
    return tuple(reports)


def agreement_figure(params: dict, name: str) -> FigureJob:
    job = agreement_figure_job(params, name)
    rows = {
        row.label: (
            row.split,
            {
                column_title(label, pairs): mean_reports(params, pairs)
                for label, pairs in row.columns.items()
            },
        )
        for row in job.rows
    }
    draw = partial(figures.agreement_figure, rows, job.title, job.metric, job.modes, job.excess)
    return FigureJob(FIGURES / name, draw)


def cka_figure(params: dict, name: str) -> FigureJob:
    job = cka_figure_job(params, name)
    cka = read_report(Path("reports/cka") / f"{name}.json", f"cka@{name}")["columns"]
    columns = {
        column_title(label, pairs): (
            *mean_reports(params, [(natural.name, iris.name) for natural, iris in pairs]),
            cka[label],
        )
        for label, pairs in job.columns.items()
    }
    return FigureJob(FIGURES / name, partial(figures.cka_figure, columns, job.title, job.mode))


def iri_examples_figure(params: dict, name: str) -> FigureJob:
    """The first source image of each of the first ``per_row`` classes, and its IRI at
    each set's point."""
    jobs, per_row = iri_examples_job(params, name)
    first = jobs[0]
    data = PreparedDataset.load(prepared_path(first.data), f"prepare@{first.data}")
    sets = {j.point: PreparedDataset.load(j.path, f"iris@{j.name}") for j in jobs}
    indices = first.settings.source_indices(len(data.train_labels))
    labels = data.train_labels[indices]
    shown = [int((labels == c).nonzero()[0]) for c in labels.unique()[:per_row]]
    sources = source_images(data, indices[shown])
    rows = {f"IRI at point {k}": iris.train_images[shown] for k, iris in sets.items()}
    titles = [data.class_names[int(labels[i])] for i in shown]
    return FigureJob(FIGURES / name, partial(figures.iri_examples, sources, rows, titles))


def panel_figure(params: dict, name: str) -> FigureJob:
    """One panel with every mode but DM (which the paper draws only in Fig. 3): a
    stitching plot, or a cross-layer panel's heatmaps."""
    panel = interval_panel(params, name)
    cross_layer = any(r["front_point"] != r["end_point"] for r in panel["results"])
    draw = figures.cross_layer_heatmaps if cross_layer else figures.stitching_plot
    return FigureJob(FIGURES / "panels" / name, partial(draw, panel))


# params.yaml section -> the job of one of its entries, in the paper's order
BUILDERS = {
    "grids": grid_figure,
    "similarities": similarity_figure,
    "shortcut_examples": shortcut_example_figure,
    "subset_figures": subset_figure,
    "cross_layer_figures": cross_layer_figure,
    "agreement_figures": agreement_figure,
    "cka_figures": cka_figure,
    "iri_examples": iri_examples_figure,
}


def figure_sections(params: dict) -> dict[str, str]:
    """Figure name -> its params.yaml section, for every figure but the panels' own."""
    sections = {}
    for section in BUILDERS:
        for name in params.get(section) or {}:
            if name in sections or name == "panels":
                raise UserError(
                    f"figure name {name!r} is used by {sections.get(name, 'the panel figures')} "
                    f"and {section}; rename one (figures share reports/figures/)"
                )
            sections[name] = section
    return sections


def figure_jobs(params: dict, names: list[str]) -> list[FigureJob]:
    """The jobs of ``names`` (from figure_sections, or "panels": every panel's own)."""
    sections = figure_sections(params)
    jobs = []
    for name in names:
        if name == "panels":
            panels = [*(params.get("panels") or {}), *(params.get("iri_panels") or {})]
            jobs += [panel_figure(params, panel) for panel in panels]
        else:
            jobs.append(BUILDERS[sections[name]](params, name))
    return jobs
