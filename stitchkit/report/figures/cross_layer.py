"""Cross-layer heatmaps (Figs. 10, 11): accuracy of every (front point, end point)
pair per mode."""

from collections.abc import Sequence

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.figure import Figure

from stitchkit.report.figures.style import MODE_LABELS, drawn_modes, paper_style, suptitle


def _heatmap(ax, panel: dict, mode: str, points: list[int], legend: str | None = None) -> None:
    """One annotated accuracy matrix titled with its self-accuracy and, in
    parentheses, that of the non-directional matrix (Sec. 3.3)."""
    from stitchkit.testbeds.cross_layer import accuracy_matrix, non_directional, self_accuracy

    matrix = accuracy_matrix(panel["results"], mode, points)
    sns.heatmap(
        100 * matrix,
        ax=ax,
        vmin=0,
        vmax=100,
        cmap="viridis",
        annot=True,
        fmt=".0f",
        cbar=False,
        square=True,
        xticklabels=points,
        yticklabels=points,
        annot_kws={"fontsize": "x-small"},
    )
    label = legend or MODE_LABELS.get(mode, mode)
    directional, both = self_accuracy(matrix), self_accuracy(non_directional(matrix))
    ax.set_title(
        f"{label}\nself-acc. {100 * directional:.0f}% ({100 * both:.0f}%)", fontsize="small"
    )
    ax.set_xlabel("end input point")
    ax.tick_params(axis="y", rotation=0)


def cross_layer_figure(
    rows: dict[str, dict],
    title: str,
    modes: Sequence[str | tuple[str, str | None]] | None = None,
) -> Figure:
    """The paper's Figs. 10, 11, 28-30: one row of accuracy matrices per setting (label
    -> cross-layer panel), one column per mode (see drawn_modes; default all but DM)."""
    paper_style()
    first = next(iter(rows.values()))
    modes = drawn_modes(first["results"], modes)
    points = sorted({r["front_point"] for r in first["results"]})
    side = 0.5 * len(points) + 1.2
    fig, axes = plt.subplots(
        len(rows),
        len(modes),
        figsize=(side * len(modes) + 0.9, (side + 0.6) * len(rows) + 0.5),
        squeeze=False,
        layout="constrained",
    )
    for r, (label, panel) in enumerate(rows.items()):
        for c, (mode, legend) in enumerate(modes):
            ax = axes[r][c]
            _heatmap(ax, panel, mode, points, legend)
            setting = f"{label}\n" if label else ""
            ax.set_ylabel(f"{setting}front output point" if c == 0 else "")
            if r < len(rows) - 1:
                ax.set_xlabel("")
    suptitle(fig, title)
    return fig


def cross_layer_heatmaps(panel: dict) -> Figure:
    """Annotated accuracy matrices of one cross-layer panel, one per mode but DM (rows:
    front output point, columns: end input point)."""
    return cross_layer_figure(
        {"": panel}, f"{panel['front']} → {panel['end']} (stitched on {panel['data']})"
    )
