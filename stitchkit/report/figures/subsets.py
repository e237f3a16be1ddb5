"""Class-subset plots (Fig. 9): accuracy against the number of classes."""

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from stitchkit.report.figures.style import (
    drawn_modes,
    interval_band,
    legend_below,
    mode_style,
    paper_style,
    suptitle,
)


def class_subset_plot(
    series: dict, ax: Axes | None = None, title: str | None = None, legend: bool = True
) -> Figure | None:
    """Accuracy on all classes against the number of classes k the stitch was fitted on,
    one line per mode but DM (the paper's Fig. 9); the dashed line is the end model."""
    paper_style()
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
    modes = drawn_modes(series["results"])
    for mode, _ in modes:
        rows = sorted(
            (r for r in series["results"] if r["mode"] == mode), key=lambda r: r["classes"]
        )
        style = mode_style(mode)
        interval_band(ax, [r["classes"] for r in rows], rows, "test_accuracy", style["color"])
        ax.plot(
            [r["classes"] for r in rows],
            [100 * r["test_accuracy"] for r in rows],
            marker=style["marker"],
            markersize=5,
            markerfacecolor="none",
            color=style["color"],
            linestyle=style["linestyle"],
            label=style["label"],
        )
    ax.axhline(100 * series["end_accuracy"], color="black", linestyle="--", label="end model")
    ks = sorted({r["classes"] for r in series["results"]})
    ax.set_xticks(ks)
    ax.set_ylim(0, 100)
    ax.set_xlabel("classes k the stitch is fitted on")
    ax.set_ylabel("accuracy on all classes (%)")
    if title is None:
        title = f"{series['front']} → {series['end']}, point {series['point']}"
    ax.set_title(title, fontsize="medium")
    if legend:
        legend_below(ax, len(modes) + 1)
    return fig


def class_subset_figure(series: dict[str, dict], title: str) -> Figure:
    """The paper's Fig. 9 / 25-27: class-subset series side by side (label -> series
    result), one shared legend."""
    paper_style()
    fig, axes = plt.subplots(
        1, len(series), figsize=(5.6 * len(series), 4.3), squeeze=False, sharey=True,
        layout="constrained",
    )  # fmt: skip
    for ax, (label, result) in zip(axes[0], series.items(), strict=True):
        subtitle = f"{label}\n{result['front']} → {result['end']}"
        class_subset_plot(result, ax=ax, title=subtitle, legend=False)
        if ax is not axes[0][0]:
            ax.set_ylabel("")
    handles, _ = axes[0][0].get_legend_handles_labels()
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    suptitle(fig, title)
    return fig
