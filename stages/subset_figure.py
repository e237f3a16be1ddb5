"""DVC stage `subset-figure@<series>`: python -m stages.subset_figure <series>

Draws reports/subset/<series>.json (accuracy against the number of classes, Fig. 9) to
reports/figures/subset-<series>.{png,pdf}.
"""

import json
from pathlib import Path

from stitchkit.cli import run_stage
from stitchkit.errors import UserError
from stitchkit.plotting import class_subset_plot, save_figure


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.subset_figure <series>")
    (name,) = argv
    source = Path("reports/subset") / f"{name}.json"
    if not source.exists():
        raise UserError(f"{source} does not exist; run `dvc repro subset@{name}` first")
    figure = class_subset_plot(json.loads(source.read_text()))
    for path in save_figure(figure, Path("reports/figures") / f"subset-{name}"):
        print(f"wrote {path}")


if __name__ == "__main__":
    run_stage(main)
