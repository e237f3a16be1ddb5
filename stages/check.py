"""DVC stage `check`: python -m stages.check

First in the DAG: params.yaml checked in full (stitchkit.pipeline.config), so that a bad
value anywhere stops `dvc repro` before any stage runs, while each stage's own code deps
stay the areas it reads. Every other stage depends on its output,
reports/params-check.json, whose content never changes: a params.yaml change reruns
only this check and the stages whose own params changed.
"""

from pathlib import Path

from stitchkit.common.entry_point import run_stage
from stitchkit.common.errors import UserError
from stitchkit.common.io import write_json
from stitchkit.pipeline.config import load_params

OUTPUT = Path("reports/params-check.json")


def main(argv: list[str]) -> None:
    if argv:
        raise UserError("usage: python -m stages.check")
    load_params()
    write_json(OUTPUT, {"params.yaml": "valid"})


if __name__ == "__main__":
    run_stage(main)
