"""DVC stage `subset-figure@<figure>`: python -m stages.subset_figure <figure>

Draws the class-subset series of `subset_figures.<figure>` side by side (accuracy
against the number of classes, the paper's Fig. 9 / 25-27) to
reports/figures/<figure>.{png,pdf}. Reads only the series' reports/subset/<series>.json.
"""

from pathlib import Path

from stages.reports import series_report
from stitchkit.cli import run_stage
from stitchkit.config import load_params, subset_figure_job
from stitchkit.errors import UserError
from stitchkit.plotting import class_subset_figure, save_figure


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.subset_figure <figure>")
    (name,) = argv
    job = subset_figure_job(load_params(), name)
    series = {label: series_report(series) for label, series in job.series.items()}
    figure = class_subset_figure(series, job.title)
    for path in save_figure(figure, Path("reports/figures") / name):
        print(f"wrote {path}")


if __name__ == "__main__":
    run_stage(main)
