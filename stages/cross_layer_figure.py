"""DVC stage `cross-layer-figure@<figure>`: python -m stages.cross_layer_figure <figure>

Draws the cross-layer panels of `cross_layer_figures.<figure>` as one figure: a row of
accuracy matrices per setting, a column per mode, each titled with its directional and
non-directional self-accuracy (the paper's Figs. 10, 11, 28-30), to
reports/figures/<figure>.{png,pdf}. Reads only the panels' reports/stitch/<panel>.json.
"""

from pathlib import Path

from stages.reports import panel_report
from stitchkit.cli import run_stage
from stitchkit.config import cross_layer_figure_job, load_params
from stitchkit.errors import UserError
from stitchkit.plotting import cross_layer_figure, save_figure


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.cross_layer_figure <figure>")
    (name,) = argv
    job = cross_layer_figure_job(load_params(), name)
    rows = {label: panel_report(panel) for label, panel in job.rows.items()}
    figure = cross_layer_figure(rows, job.title, job.modes)
    for path in save_figure(figure, Path("reports/figures") / name):
        print(f"wrote {path}")


if __name__ == "__main__":
    run_stage(main)
