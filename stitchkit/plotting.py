"""Figures in the paper's style, drawn from result JSONs (Fig. 7/12: from the shortcut data)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from stitchkit.io import atomic_path  # noqa: E402

MODE_COLORS = {
    "dm": "#7f7f7f",
    "hint": "#1f77b4",
    "slm": "#ff7f0e",
    "tlm": "#d62728",
    "fula": "#2ca02c",
}
MODE_MARKERS = {"dm": "o", "hint": "s", "slm": "^", "tlm": "v", "fula": "D"}
MODE_LABELS = {"dm": "DM", "hint": "Hint", "slm": "SLM", "tlm": "TLM", "fula": "FuLA"}


def _style() -> None:
    sns.set_theme(context="paper", style="whitegrid", font_scale=1.3)


def save_figure(fig, stem: Path) -> list[Path]:
    """Write ``stem``.png and ``stem``.pdf atomically, byte-reproducibly."""
    paths = []
    for suffix, metadata in ((".png", {"Software": None}), (".pdf", {"CreationDate": None})):
        path = stem.with_suffix(suffix)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=suffix[1:], metadata=metadata, bbox_inches="tight", dpi=150)
        paths.append(path)
    plt.close(fig)
    return paths


def _mode_style(mode: str) -> dict:
    base = mode.split("-")[0]
    return {
        "marker": MODE_MARKERS.get(base, "o"),
        "color": MODE_COLORS.get(base),
        "label": MODE_LABELS.get(mode, mode),
    }


def _legend_below(ax, columns: int, handles=None) -> None:
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        ncols=columns,
        frameon=False,
        fontsize="small",
        handletextpad=0.3,
        columnspacing=1.0,
    )


# the dashed second series of a stitching plot: (result key, end key, front key, legend)
SECOND_SERIES = (
    ("shortcut_test_accuracy", "end_shortcut_accuracy", "front_accuracy", "shortcut test"),
    ("robust_accuracy", "end_robust_accuracy", "front_robust_accuracy", "robust"),
)


def _second_series(results: list[dict]) -> tuple | None:
    """The dashed series a panel has (shortcut test or robust accuracy), if any."""
    for series in SECOND_SERIES:
        if any(r.get(series[0]) is not None for r in results):
            return series
    return None


def stitching_plot(panel: dict, ax=None, title: str | None = None, legend: bool = True, modes=None):
    """Accuracy against stitching point, one line per mode (all, or ``modes``); x = 0 is
    the end model and x = 10 the front model, as in the paper's stitching plots. On a
    shortcut dataset the accuracy on the shortcut test split, on an adversarial panel the
    robust accuracy, is drawn dashed beside the clean one (solid)."""
    _style()
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
    same_point = [r for r in panel["results"] if r["front_point"] == r["end_point"]]
    if modes is None:
        modes = list(dict.fromkeys(r["mode"] for r in same_point))
    second = _second_series(same_point)
    last = 10
    for mode in modes:
        rows = sorted((r for r in same_point if r["mode"] == mode), key=lambda r: r["front_point"])
        xs = [0] + [r["front_point"] for r in rows] + [last]
        style = _mode_style(mode)
        series = [("test_accuracy", "end_accuracy", "front_accuracy", "-", style["label"])]
        if second:
            series.append((*second[:3], "--", None))
        for key, end_key, front_key, linestyle, label in series:
            ys = [panel[end_key]] + [r[key] for r in rows] + [panel[front_key]]
            ax.plot(
                xs,
                [100 * y for y in ys],
                marker=style["marker"],
                markersize=5,
                markerfacecolor="none",
                color=style["color"],
                linestyle=linestyle,
                label=label,
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
            handles += _linestyle_handles(second[3])
        _legend_below(ax, len(modes) + 2 * bool(second), handles)
    return fig


def _linestyle_handles(second_label: str) -> list:
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], color="black", linestyle="-", label="clean"),
        Line2D([], [], color="black", linestyle="--", label=second_label),
    ]


def stitching_grid(panels: list[list[dict]], row_labels, column_labels, title: str, modes=None):
    """A grid of stitching plots (the paper's Figs. 4, 5, 8): one row per row label, one
    column per column label, one shared legend; all modes, or only ``modes``."""
    _style()
    rows, columns = len(panels), len(panels[0])
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(4.2 * columns, 3.3 * rows + 0.9),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    for r, row in enumerate(panels):
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
    second = _second_series(panels[0][0]["results"])
    if second:
        handles += _linestyle_handles(second[3])
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    fig.suptitle(title, fontsize="large")
    return fig


def class_subset_plot(series: dict):
    """Accuracy on all classes against the number of classes k the stitch was fitted on,
    one line per mode (the paper's Fig. 9); the dashed line is the end model."""
    _style()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    modes = list(dict.fromkeys(r["mode"] for r in series["results"]))
    for mode in modes:
        rows = [r for r in series["results"] if r["mode"] == mode]
        rows.sort(key=lambda r: r["classes"])
        style = _mode_style(mode)
        ax.plot(
            [r["classes"] for r in rows],
            [100 * r["test_accuracy"] for r in rows],
            marker=style["marker"],
            markersize=5,
            markerfacecolor="none",
            color=style["color"],
            label=style["label"],
        )
    ax.axhline(100 * series["end_accuracy"], color="black", linestyle="--", label="end model")
    ks = sorted({r["classes"] for r in series["results"]})
    ax.set_xticks(ks)
    ax.set_ylim(0, 100)
    ax.set_xlabel("number of classes k the stitch is trained on")
    ax.set_ylabel("accuracy on all classes (%)")
    ax.set_title(
        f"{series['front']} → {series['end']}, point {series['point']}\n"
        f"(stitched on the first k classes of {series['data']})",
        fontsize="medium",
    )
    _legend_below(ax, len(modes) + 1)
    return fig


def shortcut_examples(settings: dict, per_row: int):
    """The paper's Fig. 7 / 12: one row per shortcut setting (and the clean images on
    top), showing the first shortcut test image of each of the first ``per_row`` classes;
    ``settings`` maps names to shortcut PreparedDatasets of one clean source."""
    _style()
    names = list(settings)
    first = settings[names[0]]
    fig, axes = plt.subplots(
        len(names) + 1,
        per_row,
        figsize=(1.1 * per_row + 1.6, 1.15 * (len(names) + 1)),
        squeeze=False,
        layout="constrained",
    )
    rows = [("clean", first.test_images)] + [(n, settings[n].shortcut_test_images) for n in names]
    for r, (label, images) in enumerate(rows):
        for c in range(per_row):
            ax = axes[r][c]
            index = int((first.test_labels == c).nonzero()[0])
            image = images[index].permute(1, 2, 0).squeeze(-1).numpy()
            ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(first.class_names[c], fontsize="x-small")
            if c == 0:
                ax.set_ylabel(label, fontsize="x-small", rotation=0, ha="right", va="center")
    return fig


def cross_layer_heatmaps(panel: dict):
    """Annotated accuracy matrices, one per mode (rows: front output point, columns: end
    input point), each titled with its self-accuracy and, in parentheses, that of the
    non-directional matrix (the paper's Fig. 10 / 11)."""
    from stitchkit.cross_layer import accuracy_matrix, non_directional, self_accuracy

    _style()
    points = sorted({r["front_point"] for r in panel["results"]})
    modes = list(dict.fromkeys(r["mode"] for r in panel["results"]))
    side = 0.5 * len(points) + 1.2
    fig, axes = plt.subplots(
        1,
        len(modes),
        figsize=(side * len(modes) + 0.6, side + 1.0),
        squeeze=False,
        layout="constrained",
    )
    for n, (ax, mode) in enumerate(zip(axes[0], modes, strict=True)):
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
        label = MODE_LABELS.get(mode, mode)
        directional, both = self_accuracy(matrix), self_accuracy(non_directional(matrix))
        ax.set_title(
            f"{label}\nself-acc. {100 * directional:.0f}% ({100 * both:.0f}%)", fontsize="small"
        )
        ax.set_xlabel("end input point")
        ax.set_ylabel("front output point" if n == 0 else "")
        ax.tick_params(axis="y", rotation=0)
    fig.suptitle(
        f"{panel['front']} → {panel['end']} (stitched on {panel['data']})", fontsize="medium"
    )
    return fig


def similarity_plot(configs: dict[str, list[dict]], title: str):
    """The paper's Fig. 6: against the stitching point, per front -> end configuration,
    (a) linear CKA (solid; debiased dashed) between the end model's and the DM-initialised
    stitched model's penultimate features on adversarial examples crafted on the stitched
    model, (b) the accuracy of the FuLA stitch with all weight on the last hint (solid
    clean, dashed robust). ``configs`` maps labels to rows {point, cka, cka_debiased,
    fula_accuracy, fula_robust_accuracy}."""
    _style()
    fig, (ax_cka, ax_fula) = plt.subplots(1, 2, figsize=(11, 4.0), layout="constrained")
    palette = sns.color_palette("colorblind", len(configs))
    for color, (label, rows) in zip(palette, configs.items(), strict=True):
        points = [r["point"] for r in rows]
        for ax, keys in (
            (ax_cka, ("cka", "cka_debiased")),
            (ax_fula, ("fula_accuracy", "fula_robust_accuracy")),
        ):
            scale = 1 if ax is ax_cka else 100
            ax.plot(
                points, [scale * r[keys[0]] for r in rows], marker="o", color=color, label=label
            )
            ax.plot(
                points,
                [scale * r[keys[1]] for r in rows],
                marker="o",
                markerfacecolor="none",
                linestyle="--",
                color=color,
            )
    ax_cka.set_ylabel("linear CKA (dashed: debiased)")
    ax_cka.set_ylim(-0.05, 1.05)
    ax_cka.set_title("(a) CKA, penultimate layer", fontsize="medium")
    ax_fula.set_ylabel("accuracy (%) (dashed: robust)")
    ax_fula.set_ylim(0, 100)
    ax_fula.set_title("(b) FuLA, all weight on the last hint", fontsize="medium")
    for ax in (ax_cka, ax_fula):
        ax.set_xlabel("stitching point")
        ax.set_xticks(sorted({r["point"] for rows in configs.values() for r in rows}))
    handles, _ = ax_cka.get_legend_handles_labels()
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    fig.suptitle(title, fontsize="large")
    return fig
