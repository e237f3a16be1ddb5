"""DVC stage `figures@<panel>`: python -m stages.figures <panel>

Draws the stitching plot of reports/stitch/<panel>.json to
reports/figures/stitch-<panel>.{png,pdf}; reads nothing but that JSON.
"""

import json
from pathlib import Path

from stitchkit.cli import run_stage
from stitchkit.errors import UserError
from stitchkit.plotting import save_figure, stitching_plot


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.figures <panel>")
    (name,) = argv
    source = Path("reports/stitch") / f"{name}.json"
    if not source.exists():
        raise UserError(f"{source} does not exist; run `dvc repro stitch@{name}` first")
    panel = json.loads(source.read_text())
    for path in save_figure(stitching_plot(panel), Path("reports/figures") / f"stitch-{name}"):
        print(f"wrote {path}")


if __name__ == "__main__":
    run_stage(main)
