"""Stitching plots (Figs. 3-5, 8): accuracy against stitching point per mode, and
grids of them."""

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from stitchkit.report.figures.style import (
    drawn_modes,
    interval_band,
    legend_below,
    mode_style,
    paper_style,
    suptitle,
)


def merge_panels(panels: list[dict]) -> dict:
    """One panel from several of the same front, end and data, drawn together: the
    first one's model accuracies and every panel's results."""
    keys = [(r["mode"], r["front_point"], r["end_point"]) for p in panels for r in p["results"]]
    if len(set(keys)) != len(keys):
        raise ValueError("merged panels must not share a mode label")
    return {**panels[0], "results": [r for p in panels for r in p["results"]]}


# the dashed second series of a stitching plot: (result key, end key, front key, legend)
SECOND_SERIES = (
    ("shortcut_test_accuracy", "end_shortcut_accuracy", "front_accuracy", "shortcut test"),
    ("robust_accuracy", "end_robust_accuracy", "front_robust_accuracy", "robust"),
)


def second_series(results: list[dict]) -> tuple | None:
    """The dashed series every one of ``results`` has (shortcut test or robust
    accuracy), if any."""
    for series in SECOND_SERIES:
        if results and all(r.get(series[0]) is not None for r in results):
            return series
    return None


def stitching_plot(
    panel: dict,
    ax: Axes | None = None,
    title: str | None = None,
    legend: bool = True,
    modes: Sequence[str | tuple[str, str | None]] | None = None,
) -> Figure | None:
    """Accuracy against stitching point, one line per mode (see drawn_modes); x = 0 is
    the end model and x = n + 1 the front model for n stitching points (10 for our
    ResNets, as in the paper's stitching plots). On a
    shortcut dataset the accuracy on the shortcut test split, on an adversarial panel the
    robust accuracy, is drawn dashed beside the clean one (solid). Results that carry
    ``intervals`` get their 95% interval as a shaded band."""
    paper_style()
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
    same_point = [r for r in panel["results"] if r["front_point"] == r["end_point"]]
    modes = drawn_modes(same_point, modes)
    drawn = [r for r in same_point if r["mode"] in dict(modes)]
    second = second_series(drawn)
    last = panel.get("end_points", 9) + 1
    for mode, legend_label in modes:
        rows = sorted((r for r in drawn if r["mode"] == mode), key=lambda r: r["front_point"])
        if not rows:  # a mode this panel does not train (a grid's other columns do)
            continue
        xs = [0] + [r["front_point"] for r in rows] + [last]
        style = mode_style(mode, legend_label)
        series = [("test_accuracy", "end_accuracy", "front_accuracy", style["linestyle"], True)]
        if second:
            series.append((*second[:3], "--", False))
        for key, end_key, front_key, linestyle, labelled in series:
            ys = [panel[end_key]] + [r[key] for r in rows] + [panel[front_key]]
            interval_band(ax, xs[1:-1], rows, key, style["color"])
            ax.plot(
                xs,
                [100 * y for y in ys],
                marker=style["marker"],
                markersize=5,
                markerfacecolor="none",
                color=style["color"],
                linestyle=linestyle,
                label=style["label"] if labelled else None,
            )
    for end_key, front_key, marker in (
        ("end_accuracy", "front_accuracy", "o"),
        *([(second[1], second[2], "x")] if second else []),
    ):
        ax.plot(
            [0, last],
            [100 * panel[end_key], 100 * panel[front_key]],
            linestyle="none",
            marker=marker,
            markersize=7,
            color="black",
            zorder=5,
        )
    ax.set_xticks(range(0, last + 1))
    ax.set_xticklabels(["end"] + [str(k) for k in range(1, last)] + ["front"])
    ax.set_xlim(-0.3, last + 0.3)
    ax.set_ylim(0, 100)
    ax.set_xlabel("stitching point")
    ax.set_ylabel("accuracy (%)")
    if title is None:
        title = f"{panel['front']} → {panel['end']}\n(stitched on {panel['data']})"
    ax.set_title(title, fontsize="medium")
    if legend:
        handles, _ = ax.get_legend_handles_labels()
        if second:
            handles += linestyle_handles(second[3])
        legend_below(ax, len(modes) + 2 * bool(second), handles)
    return fig


def linestyle_handles(second_label: str) -> list:

    return [
        Line2D([], [], color="black", linestyle="-", label="clean"),
        Line2D([], [], color="black", linestyle="--", label=second_label),
    ]


def stitching_grid(
    cells: list[list[dict]],
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    title: str,
    modes: Sequence[str | tuple[str, str | None]] | None = None,
) -> Figure:
    """A grid of stitching plots (the paper's Figs. 3, 4, 5, 8): one row per row label,
    one column per column label, one shared legend; ``cells[r][c]`` is a panel (merged
    from several with merge_panels); modes as in drawn_modes."""
    paper_style()
    rows, columns = len(cells), len(cells[0])
    point_counts = {panel.get("end_points", 9) for row in cells for panel in row}
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(4.2 * columns, 3.3 * rows + 0.9),
        squeeze=False,
        sharex=len(point_counts) == 1,  # architectures with different point counts
        sharey=True,
        layout="constrained",
    )
    for r, row in enumerate(cells):
        for c, panel in enumerate(row):
            ax = axes[r][c]
            stitching_plot(
                panel, ax=ax, title=column_labels[c] if r == 0 else "", legend=False, modes=modes
            )
            if r < rows - 1:
                ax.set_xlabel("")
            ax.set_ylabel(f"{row_labels[r]}\naccuracy (%)" if c == 0 else "")
            ax.tick_params(axis="x", labelsize="x-small")
    handles, _ = axes[0][0].get_legend_handles_labels()
    first = cells[0][0]["results"]
    drawn = [r for r in first if r["mode"] in dict(drawn_modes(first, modes))]
    second = second_series(drawn)
    if second:
        handles += linestyle_handles(second[3])
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    suptitle(fig, title)
    return fig
