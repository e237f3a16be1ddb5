"""What `stitchkit compare` writes to its output folder: the table (comparison.csv and
comparison.parquet), the heatmaps (heatmaps/*.png) and index.html, each file
written whole or not at all."""

from pathlib import Path

import pandas as pd

from stitchkit.common.errors import UserError
from stitchkit.common.io import atomic_path
from stitchkit.compare.heatmaps import model_label, write_heatmaps
from stitchkit.compare.page import write_page

TABLE = "comparison"
MAIN_METRICS = ("accuracy", "similarity", "distance")  # what the terminal shows


def check_output_folder(out: Path) -> None:
    """``out`` must be a folder or not exist yet (it is checked before any work)."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder")


def write_outputs(
    out: Path, table: pd.DataFrame, settings: dict[str, str], heatmaps: Path | None = None
) -> list[Path]:
    """Write the table and page under ``out`` and the heatmaps under ``heatmaps``
    (default ``out``/heatmaps); ``settings``: front and end SPECs, then anything else the
    page should state. Returns the table's files, the heatmaps' PNGs and the page."""
    written = []
    for suffix, write in ((".csv", _csv), (".parquet", _parquet)):
        path = out / f"{TABLE}{suffix}"
        with atomic_path(path) as tmp:
            write(table, tmp)
        written.append(path)
    labels = model_label(settings["front"]), model_label(settings["end"])
    pngs = write_heatmaps(table, heatmaps or out / "heatmaps", *labels)
    written += list(pngs.values())
    written.append(write_page(out / "index.html", table, pngs, settings))
    return written


def _csv(table: pd.DataFrame, path: Path) -> None:
    table.to_csv(path, index=False)


def _parquet(table: pd.DataFrame, path: Path) -> None:
    table.to_parquet(path, index=False)


def summary(table: pd.DataFrame) -> str:
    """The models' own accuracies, then per method and main metric (stitching: accuracy)
    its front x end matrix of values, for a terminal."""
    lines = [
        f"{row.method} model {row.metric}: {row.value:.4f} [{row.low:.4f}, {row.high:.4f}]"
        for row in table[table.front_point == ""].itertuples()
    ]
    rows = table[(table.front_point != "") & table.metric.isin(MAIN_METRICS)]
    for (method, metric), group in rows.groupby(["method", "metric"], sort=False):
        grid = group.pivot(index="front_point", columns="end_point", values="value")
        grid = grid.reindex(
            index=list(dict.fromkeys(group.front_point)),
            columns=list(dict.fromkeys(group.end_point)),
        )
        grid.index.name, grid.columns.name = "front \\ end", None
        lines += ["", f"{method} {metric}:", grid.to_string(float_format="%.3f")]
    return "\n".join(lines)
