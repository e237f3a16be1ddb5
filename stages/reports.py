"""Reading the JSON results of earlier stages; a missing one names the stage to run."""

import json
from pathlib import Path

from stitchkit.common.errors import UserError


def read_report(path: Path, stage: str) -> dict:
    if not path.exists():
        raise UserError(f"{path} does not exist; run `dvc repro {stage}` first")
    return json.loads(path.read_text())


def panel_report(name: str) -> dict:
    """reports/stitch/<name>.json, written by stitch@<name>."""
    return read_report(Path("reports/stitch") / f"{name}.json", f"stitch@{name}")


def series_report(name: str) -> dict:
    """reports/subset/<name>.json, written by subset@<name>."""
    return read_report(Path("reports/subset") / f"{name}.json", f"subset@{name}")
