"""DVC stage `panel-figures`: python -m stages.panel_figures

Draws every panel's reports/stitch/<panel>.json to reports/figures/panels/<panel>.{png,pdf}:
its stitching plot, or a cross-layer panel's heatmaps, with every mode but DM (which the
paper draws only in Fig. 3). One stage for all panels: a plot takes a fraction of a
second, a stage's start several.
"""

from pathlib import Path

from tqdm import tqdm

from stages.reports import panel_report
from stitchkit.cli import run_stage
from stitchkit.config import load_params
from stitchkit.errors import UserError
from stitchkit.plotting import cross_layer_heatmaps, save_figure, stitching_plot

FIGURES = Path("reports/figures/panels")


def main(argv: list[str]) -> None:
    if argv:
        raise UserError("usage: python -m stages.panel_figures")
    panels = list(load_params().get("panels") or {})
    reports = {name: panel_report(name) for name in panels}  # all present before drawing
    for name, panel in tqdm(reports.items(), desc="panel figures", unit="panel"):
        cross_layer = any(r["front_point"] != r["end_point"] for r in panel["results"])
        figure = cross_layer_heatmaps(panel) if cross_layer else stitching_plot(panel)
        save_figure(figure, FIGURES / name)
    print(f"wrote {2 * len(reports)} files to {FIGURES}/")


if __name__ == "__main__":
    run_stage(main)
