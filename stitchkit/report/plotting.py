"""Figures in the paper's style, drawn from result JSONs (Fig. 7/12: from the shortcut data)."""

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from stitchkit.common.io import atomic_path  # noqa: E402

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


def _suptitle(fig, title: str) -> None:
    """The figure's title, wrapped to the figure's width."""
    chars = max(30, int(fig.get_figwidth() * 9))
    fig.suptitle(textwrap.fill(title, chars), fontsize="large")


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


def _mode_style(mode: str, legend: str | None = None) -> dict:
    """Colour and marker of the mode's objective (the label's first word); a variant
    (a label other than the objective's own, e.g. dm-rs) is drawn dotted."""
    base = mode.split("-")[0]
    variant = mode != base and mode not in MODE_LABELS
    return {
        "marker": MODE_MARKERS.get(base, "o"),
        "color": MODE_COLORS.get(base),
        "label": legend or MODE_LABELS.get(mode, mode),
        "linestyle": ":" if variant else "-",
    }


def drawn_modes(results: list[dict], modes=None) -> list[tuple[str, str | None]]:
    """(mode, legend label) pairs to draw: ``modes`` as given (labels or pairs), else
    every mode of ``results`` but those of objective dm (the paper draws DM only in
    Fig. 3)."""
    if modes is not None:
        return [m if isinstance(m, tuple | list) else (m, None) for m in modes]
    objective = {r["mode"]: r.get("objective", r["mode"]) for r in results}
    return [(m, None) for m in objective if objective[m] != "dm"]


def merge_panels(panels: list[dict]) -> dict:
    """One panel from several of the same front, end and data, drawn together: the
    first one's model accuracies and every panel's results."""
    keys = [(r["mode"], r["front_point"], r["end_point"]) for p in panels for r in p["results"]]
    if len(set(keys)) != len(keys):
        raise ValueError("merged panels must not share a mode label")
    return {**panels[0], "results": [r for p in panels for r in p["results"]]}


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
    """The dashed series every one of ``results`` has (shortcut test or robust
    accuracy), if any."""
    for series in SECOND_SERIES:
        if results and all(r.get(series[0]) is not None for r in results):
            return series
    return None


def stitching_plot(panel: dict, ax=None, title: str | None = None, legend: bool = True, modes=None):
    """Accuracy against stitching point, one line per mode (see drawn_modes); x = 0 is
    the end model and x = n + 1 the front model for n stitching points (10 for our
    ResNets, as in the paper's stitching plots). On a
    shortcut dataset the accuracy on the shortcut test split, on an adversarial panel the
    robust accuracy, is drawn dashed beside the clean one (solid). Results that carry
    ``intervals`` get their 95% interval as a shaded band."""
    _style()
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
    same_point = [r for r in panel["results"] if r["front_point"] == r["end_point"]]
    modes = drawn_modes(same_point, modes)
    drawn = [r for r in same_point if r["mode"] in dict(modes)]
    second = _second_series(drawn)
    last = panel.get("end_points", 9) + 1
    for mode, legend_label in modes:
        rows = sorted((r for r in drawn if r["mode"] == mode), key=lambda r: r["front_point"])
        xs = [0] + [r["front_point"] for r in rows] + [last]
        style = _mode_style(mode, legend_label)
        series = [("test_accuracy", "end_accuracy", "front_accuracy", style["linestyle"], True)]
        if second:
            series.append((*second[:3], "--", False))
        for key, end_key, front_key, linestyle, labelled in series:
            ys = [panel[end_key]] + [r[key] for r in rows] + [panel[front_key]]
            _band(ax, xs[1:-1], rows, key, style["color"])
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
            handles += _linestyle_handles(second[3])
        _legend_below(ax, len(modes) + 2 * bool(second), handles)
    return fig


def _band(ax, xs, rows: list[dict], score: str, color) -> None:
    """The 95% interval of ``score`` over ``rows`` as a shaded band (results that carry
    ``intervals``, run_results.RunResults.with_intervals; nothing otherwise)."""
    intervals = [(r.get("intervals") or {}).get(score) for r in rows]
    if rows and all(intervals):
        low, high = ([100 * i[end] for i in intervals] for end in ("low", "high"))
        ax.fill_between(xs, low, high, color=color, alpha=0.18, linewidth=0)


def _linestyle_handles(second_label: str) -> list:
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], color="black", linestyle="-", label="clean"),
        Line2D([], [], color="black", linestyle="--", label=second_label),
    ]


def stitching_grid(cells: list[list[dict]], row_labels, column_labels, title: str, modes=None):
    """A grid of stitching plots (the paper's Figs. 3, 4, 5, 8): one row per row label,
    one column per column label, one shared legend; ``cells[r][c]`` is a panel (merged
    from several with merge_panels); modes as in drawn_modes."""
    _style()
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
    second = _second_series(drawn)
    if second:
        handles += _linestyle_handles(second[3])
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    _suptitle(fig, title)
    return fig


def class_subset_plot(series: dict, ax=None, title: str | None = None, legend: bool = True):
    """Accuracy on all classes against the number of classes k the stitch was fitted on,
    one line per mode but DM (the paper's Fig. 9); the dashed line is the end model."""
    _style()
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
    modes = drawn_modes(series["results"])
    for mode, _ in modes:
        rows = sorted(
            (r for r in series["results"] if r["mode"] == mode), key=lambda r: r["classes"]
        )
        style = _mode_style(mode)
        _band(ax, [r["classes"] for r in rows], rows, "test_accuracy", style["color"])
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
        _legend_below(ax, len(modes) + 1)
    return fig


def class_subset_figure(series: dict[str, dict], title: str):
    """The paper's Fig. 9 / 25-27: class-subset series side by side (label -> series
    result), one shared legend."""
    _style()
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
    _suptitle(fig, title)
    return fig


def image_grid(rows: list[tuple[str, object]], titles: list[str]):
    """Images in a grid: one row per (label, uint8 (N, C, H, W) images), the first
    ``len(titles)`` images of each, column c titled ``titles[c]``."""
    _style()
    per_row = len(titles)
    fig, axes = plt.subplots(
        len(rows),
        per_row,
        figsize=(1.1 * per_row + 1.6, 1.15 * len(rows)),
        squeeze=False,
        layout="constrained",
    )
    for r, (label, images) in enumerate(rows):
        for c in range(per_row):
            ax = axes[r][c]
            image = images[c].permute(1, 2, 0).squeeze(-1).numpy()
            ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[c], fontsize="x-small")
            if c == 0:
                ax.set_ylabel(label, fontsize="x-small", rotation=0, ha="right", va="center")
    return fig


def shortcut_examples(clean, stamped: dict, class_names: list[str], per_row: int):
    """The paper's Fig. 7 / 12: the clean images on top, then one row per shortcut
    setting, showing the first test image of each of the first ``per_row`` classes;
    ``clean`` is (images, labels) and ``stamped`` maps setting names to the images with
    their shortcut (same order)."""
    images, labels = clean
    shown = [int((labels == c).nonzero()[0]) for c in range(per_row)]
    rows = [("clean", images[shown])] + [(name, row[shown]) for name, row in stamped.items()]
    return image_grid(rows, class_names[:per_row])


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


def cross_layer_heatmaps(panel: dict):
    """Annotated accuracy matrices of one cross-layer panel, one per mode but DM (rows:
    front output point, columns: end input point)."""
    return cross_layer_figure(
        {"": panel}, f"{panel['front']} → {panel['end']} (stitched on {panel['data']})"
    )


def cross_layer_figure(rows: dict[str, dict], title: str, modes=None):
    """The paper's Figs. 10, 11, 28-30: one row of accuracy matrices per setting (label
    -> cross-layer panel), one column per mode (see drawn_modes; default all but DM)."""
    _style()
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
    _suptitle(fig, title)
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
    _suptitle(fig, title)
    return fig


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
    ax, natural: dict, iris: dict, metric: str, modes=None, excess=False, split="clean"
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
                _band(ax, [r["front_point"] for r in rows], rows, band, color)
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
    modes=None,
    excess=False,
):
    """v2's Figs. (information, backdoor, adversarial stitching): per row label ("" for
    a figure's only row) its test split and columns, each column a (natural panel, IRI
    panel) pair drawn by agreement_plot; one legend for the training data (colours) and
    one for the modes (markers and lines)."""
    from matplotlib.lines import Line2D

    _style()
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
    _suptitle(fig, title)
    return fig


CKA_STYLE = {"marker": "s", "linestyle": (0, (3, 1, 1, 1))}


def cka_figure(columns: dict[str, tuple[dict, dict, dict]], title: str, mode: str):
    """v2's CKA figure: per column label (natural panel, IRI panel, CKA rows {points,
    natural, iris}), the FuLA mode ``mode``'s agreement with the end model as in
    agreement_figure, and debiased CKA between front and end activations, on natural
    images and on IRIs, in the same colours (square markers)."""
    from matplotlib.lines import Line2D

    _style()
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
    _suptitle(fig, title)
    return fig


def iri_examples(sources, rows: dict[str, object], titles: list[str]):
    """Source images on top (titled ``titles``), then one row per stitching point with
    their IRIs there (uint8 (N, C, H, W) tensors, same order): what the front keeps of
    an image at each depth."""
    return image_grid([("source", sources), *rows.items()], titles)
