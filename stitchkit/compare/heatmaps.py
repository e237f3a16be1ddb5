"""A compare's heatmaps: one per method and metric, the front's points down, the end's
across, each cell its value and the half-width of its 95% interval."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from stitchkit.report.figures.style import MODE_LABELS, paper_style, save_figure, suptitle

PERCENT_METRICS = ("accuracy", "agreement_prob", "agreement_ratio")
METRIC_LABELS = {
    "accuracy": "accuracy (%)",
    "agreement_prob": "agreement with the end (prob., %)",
    "agreement_ratio": "agreement with the end (ratio, %)",
    "hard_kappa": "error consistency with the end (κ)",
    "similarity": "similarity",
    "distance": "distance (0: a rotation)",
}
MEASURE_LABELS = {
    "cka": "linear CKA",
    "cka_debiased": "linear CKA (debiased)",
    "rbf_cka": "RBF CKA",
    "cca": "CCA",
    "svcca": "SVCCA",
    "pwcca": "PWCCA",
    "procrustes": "Procrustes",
    "rsa": "RSA",
    "mutual_knn": "mutual k-NN",
}


def method_label(method: str) -> str:
    """``stitch:fula`` -> "Stitching (FuLA)", ``cka`` -> "linear CKA"."""
    kind, _, mode = method.partition(":")
    if kind == "stitch":
        return f"Stitching ({MODE_LABELS.get(mode, mode)})"
    return MEASURE_LABELS.get(method, method)


def model_label(spec: str) -> str:
    """A short name for a model SPEC: torchvision:resnet18,num_classes=10@w.pt -> resnet18,
    models/fashion-mnist_0-resnet18.pt -> fashion-mnist_0-resnet18."""
    source, sep, rest = spec.partition(":")
    if sep and source in ("torchvision", "timm"):
        return rest.partition("@")[0].split(",")[0]
    return Path(spec).stem


def heatmap_name(method: str, metric: str) -> str:
    return f"{method.replace(':', '-')}-{metric}"


def _matrix(table: pd.DataFrame, column: str, fronts: list[str], ends: list[str]) -> np.ndarray:
    grid = table.pivot(index="front_point", columns="end_point", values=column)
    return grid.reindex(index=fronts, columns=ends).to_numpy(dtype=float)


def heatmap(
    table: pd.DataFrame, method: str, metric: str, front_label: str, end_label: str
) -> Figure:
    """The ``method``/``metric`` rows of a compare's table as an annotated matrix."""
    paper_style()
    rows = table[(table.method == method) & (table.metric == metric)]
    fronts, ends = list(dict.fromkeys(rows.front_point)), list(dict.fromkeys(rows.end_point))
    value, low, high = (_matrix(rows, c, fronts, ends) for c in ("value", "low", "high"))
    scale = 100 if metric in PERCENT_METRICS else 1
    digits = 0 if scale == 100 else 2
    text = np.vectorize(
        lambda v, h: "" if np.isnan(v) else f"{v:.{digits}f}\n±{h:.{digits}f}", otypes=[str]
    )(scale * value, scale * (high - low) / 2)
    limits = {"hard_kappa": (-1, 1), "distance": (0, 2)}.get(metric, (0, scale))
    cell = 0.8
    fig, ax = plt.subplots(
        figsize=(cell * max(len(ends), 4) + 2.4, cell * max(len(fronts), 3) + 2.2),
        layout="constrained",
    )
    sns.heatmap(
        scale * value,
        ax=ax,
        vmin=limits[0],
        vmax=limits[1],
        cmap="viridis_r" if metric == "distance" else "viridis",
        annot=text,
        fmt="",
        square=True,
        xticklabels=ends,
        yticklabels=fronts,
        annot_kws={"fontsize": "x-small"},
        cbar_kws={"label": METRIC_LABELS.get(metric, metric), "shrink": 0.8},
    )
    ax.set_xlabel("end input point")
    ax.set_ylabel("front output point")
    ax.tick_params(axis="y", rotation=0)
    for label in ax.get_xticklabels():
        label.set(rotation=40, horizontalalignment="right", rotation_mode="anchor")
    ax.set_title(f"{front_label} → {end_label}", fontsize="small")
    suptitle(fig, method_label(method))
    return fig


def write_heatmaps(
    table: pd.DataFrame, folder: Path, front_label: str, end_label: str
) -> dict[tuple[str, str], Path]:
    """Every method and metric of ``table`` with points as ``folder``/NAME.png (images
    only, as DVC plots); (method, metric) -> the PNG."""
    paths = {}
    pairs = table[table.front_point != ""][["method", "metric"]].drop_duplicates()
    for method, metric in pairs.itertuples(index=False):
        fig = heatmap(table, method, metric, front_label, end_label)
        (png,) = save_figure(fig, folder / heatmap_name(method, metric), formats=("png",))
        paths[(method, metric)] = png
    return paths
