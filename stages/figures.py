"""DVC stage `figures@<panel>`: python -m stages.figures <panel>

Draws reports/stitch/<panel>.json to reports/figures/stitch-<panel>.{png,pdf}: the
stitching plot, or annotated heatmaps per mode for a cross-layer panel. Reads nothing
but that JSON.
"""

import json
from pathlib import Path

from stitchkit.cli import run_stage
from stitchkit.errors import UserError
from stitchkit.plotting import cross_layer_heatmaps, save_figure, stitching_plot


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.figures <panel>")
    (name,) = argv
    source = Path("reports/stitch") / f"{name}.json"
    if not source.exists():
        raise UserError(f"{source} does not exist; run `dvc repro stitch@{name}` first")
    panel = json.loads(source.read_text())
    cross_layer = any(r["front_point"] != r["end_point"] for r in panel["results"])
    figure = cross_layer_heatmaps(panel) if cross_layer else stitching_plot(panel)
    for path in save_figure(figure, Path("reports/figures") / f"stitch-{name}"):
        print(f"wrote {path}")


if __name__ == "__main__":
    run_stage(main)
