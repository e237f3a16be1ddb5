"""DVC stage `grid@<figure>`: python -m stages.grid <figure>

Draws the stitching plots of the panels listed in params.yaml `grids.<figure>` as one
grid (the paper's Figs. 4, 5, 8) to reports/figures/<figure>.{png,pdf}. Reads only the
panels' reports/stitch/<panel>.json.
"""

import json
from pathlib import Path

from stitchkit.cli import run_stage
from stitchkit.config import grid_job, load_params
from stitchkit.errors import UserError
from stitchkit.plotting import save_figure, stitching_grid


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.grid <figure>")
    (name,) = argv
    job = grid_job(load_params(), name)
    panels = []
    for row in job.panels:
        panels.append([])
        for panel in row:
            source = Path("reports/stitch") / f"{panel}.json"
            if not source.exists():
                raise UserError(f"{source} does not exist; run `dvc repro stitch@{panel}` first")
            panels[-1].append(json.loads(source.read_text()))
    figure = stitching_grid(panels, job.row_labels, job.column_labels, job.title, job.modes)
    for path in save_figure(figure, Path("reports/figures") / name):
        print(f"wrote {path}")


if __name__ == "__main__":
    run_stage(main)
