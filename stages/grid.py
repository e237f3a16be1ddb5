"""DVC stage `grid@<figure>`: python -m stages.grid <figure>

Draws the stitching plots of the panels listed in params.yaml `grids.<figure>` as one
grid (the paper's Figs. 3, 4, 5, 8) to reports/figures/<figure>.{png,pdf}; a cell with
several panels draws them together. Reads only the panels' reports/stitch/<panel>.json.
"""

from pathlib import Path

from stages.reports import panel_report
from stitchkit.cli import run_stage
from stitchkit.config import grid_job, load_params
from stitchkit.errors import UserError
from stitchkit.plotting import merge_panels, save_figure, stitching_grid


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.grid <figure>")
    (name,) = argv
    job = grid_job(load_params(), name)
    cells = [[merge_panels([panel_report(p) for p in cell]) for cell in row] for row in job.cells]
    figure = stitching_grid(cells, job.row_labels, job.column_labels, job.title, job.modes)
    for path in save_figure(figure, Path("reports/figures") / name):
        print(f"wrote {path}")


if __name__ == "__main__":
    run_stage(main)
