"""Figures in the paper's style, drawn from result JSONs only."""

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


def stitching_plot(panel: dict, ax=None):
    """Accuracy against stitching point, one line per mode; x = 0 is the end model and
    x = 10 the front model, as in the paper's stitching plots."""
    _style()
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
    by_mode: dict[str, list[tuple[int, float]]] = {}
    for r in panel["results"]:
        if r["front_point"] == r["end_point"]:
            by_mode.setdefault(r["mode"], []).append((r["front_point"], r["test_accuracy"]))
    last = 10
    for mode, points in by_mode.items():
        points = sorted(points)
        xs = [0] + [k for k, _ in points] + [last]
        ys = [panel["end_accuracy"]] + [a for _, a in points] + [panel["front_accuracy"]]
        base = mode.split("-")[0]
        ax.plot(
            xs,
            [100 * y for y in ys],
            marker=MODE_MARKERS.get(base, "o"),
            markersize=5,
            markerfacecolor="none",
            color=MODE_COLORS.get(base),
            label=MODE_LABELS.get(mode, mode),
        )
    ax.plot(
        [0, last],
        [100 * panel["end_accuracy"], 100 * panel["front_accuracy"]],
        linestyle="none",
        marker="o",
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
    ax.set_title(
        f"{panel['front']} → {panel['end']}\n(stitched on {panel['data']})", fontsize="medium"
    )
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        ncols=len(by_mode),
        frameon=False,
        fontsize="small",
        handletextpad=0.3,
        columnspacing=1.0,
    )
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
