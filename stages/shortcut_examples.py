"""DVC stage `shortcut-examples@<figure>`: python -m stages.shortcut_examples <figure>

Draws example images of the shortcut settings listed in `shortcut_examples.<figure>`
(the paper's Fig. 7 / 12) to reports/figures/<figure>.{png,pdf}.
"""

from pathlib import Path

from stitchkit.cli import run_stage
from stitchkit.config import load_params, shortcut_examples_job
from stitchkit.errors import UserError
from stitchkit.plotting import save_figure, shortcut_examples
from stitchkit.prepared import PreparedDataset, prepared_path
from stitchkit.shortcuts import evaluation_split


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.shortcut_examples <figure>")
    (name,) = argv
    settings, per_row = shortcut_examples_job(load_params(), name)
    data = {s: PreparedDataset.load(prepared_path(s), f"shortcut@{s}") for s in settings}
    first = data[settings[0]]
    stamped = {s: evaluation_split(d, "shortcut")[0] for s, d in data.items()}
    per_row = min(per_row, first.num_classes)
    figure = shortcut_examples(evaluation_split(first), stamped, first.class_names, per_row)
    for path in save_figure(figure, Path("reports/figures") / name):
        print(f"wrote {path}")


if __name__ == "__main__":
    run_stage(main)
