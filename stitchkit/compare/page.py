"""A compare's HTML page: the two models and the data, their own accuracies, one section
per method with its heatmaps, and the whole table."""

import html
import os
from pathlib import Path

import pandas as pd

from stitchkit.common.io import atomic_path
from stitchkit.compare.heatmaps import METRIC_LABELS, method_label

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
figure { display: inline-block; margin: 0.5em; } img { max-width: 560px; }
table { border-collapse: collapse; font-size: 0.85em; }
td, th { padding: 0.2em 0.6em; border-bottom: 1px solid #ddd; text-align: right; }
th { background: #f4f4f4; } .note { color: #555; font-size: 0.9em; }
"""


def _interval(row) -> str:
    if pd.isna(row.value):
        return "undefined"
    return f"{row.value:.4f} [{row.low:.4f}, {row.high:.4f}]"


def write_page(
    path: Path,
    table: pd.DataFrame,
    heatmaps: dict[tuple[str, str], Path],
    settings: dict[str, str],
) -> Path:
    """Write the page to ``path`` (atomically); heatmaps are linked relative to it."""
    escape = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>stitchkit compare</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(settings['front'])} → {escape(settings['end'])}</h1>",
        "<p class='note'>"
        + "<br>".join(f"<b>{escape(k)}</b>: {escape(v)}" for k, v in settings.items())
        + "</p>",
        "<p class='note'>Every value carries a 95% interval over the test images: "
        "a paired percentile bootstrap for stitching, a delete-a-group jackknife for "
        "the similarity measures (docs/library.md, 'Comparing two models').</p>",
    ]
    anchors = table[table.front_point == ""]
    if len(anchors):
        parts.append("<h2>The models themselves</h2><ul>")
        for row in anchors.itertuples():
            parts.append(f"<li>{escape(row.method)} model {row.metric}: {_interval(row)}</li>")
        parts.append("</ul>")
    for method in dict.fromkeys(m for m, _ in heatmaps):
        parts.append(f"<h2>{escape(method_label(method))}</h2>")
        for (m, metric), png in heatmaps.items():
            if m == method:
                source = escape(Path(os.path.relpath(png, path.parent)).as_posix())
                caption = escape(METRIC_LABELS.get(metric, metric))
                parts.append(
                    f"<figure><img src='{source}' alt='{caption}'>"
                    f"<figcaption>{caption}</figcaption></figure>"
                )
    shown = table.assign(**{"95% interval": [_interval(r) for r in table.itertuples()]})
    shown = shown[["front_point", "end_point", "method", "metric", "95% interval", "n"]]
    parts += ["<h2>The table</h2>", shown.to_html(index=False, escape=True), "</body></html>"]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts) + "\n")
    return path
