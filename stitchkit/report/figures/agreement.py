"""v2's figures: agreement with the end model against stitching point, natural images
against IRIs, and CKA beside FuLA's agreement."""

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from stitchkit.report.figures.style import (
    MODE_LABELS,
    MODE_MARKERS,
    drawn_modes,
    interval_band,
    paper_style,
    suptitle,
)

# v2's figures: the training data of a stitch by colour, its mode by marker and line
DATA_COLORS = {"natural": "#1f77b4", "iris": "#26601e"}


DATA_LABELS = {"natural": "natural images", "iris": "IRIs"}


MODE_LINESTYLES = {"dm": ":", "hint": ":", "slm": "--", "tlm": "-", "fula": "-."}


METRIC_LABELS = {
    "agreement_prob": "agreement probability (%)",
    "agreement_ratio": "agreement ratio (%)",
    "hard_kappa": "hard error consistency (%)",
    "soft_kappa": "soft error consistency (%)",
}


# the panel report's field with the front model's agreement with the end, per split
FRONT_AGREEMENT = {
    "clean": "front_agreement",
    "shortcut": "front_shortcut_agreement",
    "robust": "front_robust_agreement",
}


def panel_split(panel: dict, split: str) -> str:
    """The test split a v2 figure reads a panel on: ``split``, but for the clean split
    of a panel on shortcut data its images with their class's marker, the authors' test
    set there (their cross-bias panels: `backdoor: True` marks the test loader too)."""
    marked = any("shortcut" in (r.get("agreement") or {}) for r in panel["results"])
    return "shortcut" if split == "clean" and marked else split


def agreement_plot(
    ax: Axes,
    natural: dict,
    iris: dict,
    metric: str,
    modes: Sequence[str | tuple[str, str | None]] | None = None,
    excess: bool = False,
    split: str = "clean",
) -> None:
    """One column of v2's figures: ``metric`` of each stitch with the end model on a
    test ``split`` (clean, or robust: each stitch's attacked test images; a panel on
    shortcut data is read on its marked test images, panel_split) against
    stitching point, stitches fitted on natural images in one colour and on IRIs in
    another; x = 0 is the end model (with itself: 100%) and x = n + 1 the front model
    (with the end; under attack, on the front's attacked images), as in the authors'
    figures. ``excess``: ``metric`` on the shortcut test split minus on the rolled one
    (the end: 0). Results with ``intervals`` (agreement_prob/<split>, /excess) get the
    95% interval of the agreement probability as a band."""
    last = natural.get("end_points", 9) + 1

    def value(r: dict, own: str) -> float:
        scores = r["agreement"]
        if excess:
            return 100 * (scores["shortcut"][metric] - scores["rolled"][metric])
        return 100 * scores[own][metric]

    for panel in (natural, iris):
        own = panel_split(panel, split)
        same_point = [r for r in panel["results"] if r["front_point"] == r["end_point"]]
        for mode, _ in drawn_modes(same_point, modes):
            rows = sorted(
                (r for r in same_point if r["mode"] == mode), key=lambda r: r["front_point"]
            )
            base = mode.split("-")[0]
            color = DATA_COLORS[panel.get("train_on", "natural")]
            if metric == "agreement_prob":  # the one metric that is a mean per image
                band = f"agreement_prob/{'excess' if excess else own}"
                interval_band(ax, [r["front_point"] for r in rows], rows, band, color)
            ax.plot(
                [r["front_point"] for r in rows],
                [value(r, own) for r in rows],
                marker=MODE_MARKERS.get(base, "o"),
                markersize=6,
                markerfacecolor="none",
                linestyle=MODE_LINESTYLES.get(base, "-"),
                color=color,
            )
    front = None if excess else natural.get(FRONT_AGREEMENT[panel_split(natural, split)])
    anchors = [(0, 0.0 if excess else 100.0)] + ([(last, 100 * front[metric])] if front else [])
    xs, ys = zip(*anchors, strict=True)
    ax.plot(xs, ys, linestyle="none", marker="X", markersize=9, color="black", zorder=5)
    ax.set_xticks(range(0, last + 1))
    ax.set_xticklabels(["end"] + [str(k) for k in range(1, last)] + ["front"])
    ax.set_xlim(-0.3, last + 0.3)
    if not excess:  # agreement_figure sets an excess figure's shared range
        ax.set_ylim(0 if metric.startswith("agreement") else -100, 102)
    ax.set_xlabel("stitching point")


def agreement_figure(
    rows: dict[str, tuple[str, dict[str, tuple[dict, dict]]]],
    title: str,
    metric: str,
    modes: Sequence[str | tuple[str, str | None]] | None = None,
    excess: bool = False,
) -> Figure:
    """v2's Figs. (information, backdoor, adversarial stitching): per row label ("" for
    a figure's only row) its test split and columns, each column a (natural panel, IRI
    panel) pair drawn by agreement_plot; one legend for the training data (colours) and
    one for the modes (markers and lines)."""

    paper_style()
    width = max(len(columns) for _, columns in rows.values())
    fig, axes = plt.subplots(
        len(rows),
        width,
        figsize=(4.2 * width, 0.4 + 3.7 * len(rows)),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    ylabel = METRIC_LABELS.get(metric, metric)
    if excess:
        ylabel = f"excess {ylabel}\n(matched - rolled markers)"
    for row_axes, (row_label, (split, columns)) in zip(axes, rows.items(), strict=True):
        for ax, (label, (natural, iris)) in zip(row_axes, columns.items(), strict=False):
            agreement_plot(ax, natural, iris, metric, modes, excess, split)
            ax.set_title(label, fontsize="medium")
            ax.tick_params(axis="x", labelsize="x-small")
        for ax in row_axes[len(columns) :]:
            ax.set_visible(False)
        under_attack = " on attacked images" if split == "robust" else ""
        prefix = f"{row_label}{under_attack}\n" if row_label or under_attack else ""
        row_axes[0].set_ylabel(prefix + ylabel)
    if excess:  # about 0 where no stitch reads the markers; the authors draw 0-100
        low = min(-10.0, *(ax.dataLim.y0 - 5 for ax in axes.flat if ax.get_visible()))
        axes[0][0].set_ylim(low, 102)
    first = next(iter(next(iter(rows.values()))[1].values()))[0]["results"]
    handles = [
        Line2D([], [], color=color, lw=4, label=f"trained on {DATA_LABELS[data]}")
        for data, color in DATA_COLORS.items()
    ]
    for mode, legend_label in drawn_modes(first, modes):
        base = mode.split("-")[0]
        handles.append(
            Line2D(
                [],
                [],
                color="black",
                marker=MODE_MARKERS.get(base, "o"),
                markerfacecolor="none",
                linestyle=MODE_LINESTYLES.get(base, "-"),
                label=legend_label or MODE_LABELS.get(mode, mode),
            )
        )
    handles.append(
        Line2D([], [], color="black", marker="X", linestyle="none", label="end / front model")
    )
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    suptitle(fig, title)
    return fig


CKA_STYLE = {"marker": "s", "linestyle": (0, (3, 1, 1, 1))}


def cka_figure(columns: dict[str, tuple[dict, dict, dict]], title: str, mode: str) -> Figure:
    """v2's CKA figure: per column label (natural panel, IRI panel, CKA rows {points,
    natural, iris}), the FuLA mode ``mode``'s agreement with the end model as in
    agreement_figure, and debiased CKA between front and end activations, on natural
    images and on IRIs, in the same colours (square markers)."""

    paper_style()
    fig, axes = plt.subplots(
        1,
        len(columns),
        figsize=(4.2 * len(columns), 4.1),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    for ax, (label, (natural, iris, cka)) in zip(axes[0], columns.items(), strict=True):
        agreement_plot(ax, natural, iris, "agreement_prob", ((mode, None),))
        for data, color in DATA_COLORS.items():
            values = [100 * v for v in cka[data]]
            ax.plot(cka["points"], values, color=color, markerfacecolor="none", **CKA_STYLE)
        ax.set_title(label, fontsize="medium")
        ax.tick_params(axis="x", labelsize="x-small")
    axes[0][0].set_ylabel("similarity (%)")
    handles = [
        Line2D([], [], color=color, lw=4, label=DATA_LABELS[data])
        for data, color in DATA_COLORS.items()
    ]
    base = mode.split("-")[0]
    handles += [
        Line2D(
            [],
            [],
            color="black",
            marker=MODE_MARKERS.get(base, "o"),
            markerfacecolor="none",
            linestyle=MODE_LINESTYLES.get(base, "-"),
            label="FuLA agreement (stitch trained on the data)",
        ),
        Line2D(
            [], [], color="black", markerfacecolor="none", label="CKA (on the data)", **CKA_STYLE
        ),
        Line2D([], [], color="black", marker="X", linestyle="none", label="end / front model"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    suptitle(fig, title)
    return fig
