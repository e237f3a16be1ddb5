"""The papers' figure style: mode colours, markers and labels, the seaborn theme,
titles, legends below the axes, 95% interval bands, and saving a figure (PNG and PDF,
written atomically)."""

import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from stitchkit.common.io import atomic_path

MODE_COLORS = {
    "dm": "#7f7f7f",
    "hint": "#1f77b4",
    "slm": "#ff7f0e",
    "tlm": "#d62728",
    "fula": "#2ca02c",
}


MODE_MARKERS = {"dm": "o", "hint": "s", "slm": "^", "tlm": "v", "fula": "D"}


MODE_LABELS = {"dm": "DM", "hint": "Hint", "slm": "SLM", "tlm": "TLM", "fula": "FuLA"}


def paper_style() -> None:
    sns.set_theme(context="paper", style="whitegrid", font_scale=1.3)


def suptitle(fig: Figure, title: str) -> None:
    """The figure's title, wrapped to the figure's width."""
    chars = max(30, int(fig.get_figwidth() * 9))
    fig.suptitle(textwrap.fill(title, chars), fontsize="large")


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Write ``stem``.png and ``stem``.pdf (or the given ``formats``) atomically,
    byte-reproducibly."""
    paths = []
    metadatas = {".png": {"Software": None}, ".pdf": {"CreationDate": None}}
    for suffix, metadata in ((f".{f}", metadatas[f".{f}"]) for f in formats):
        path = stem.with_suffix(suffix)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=suffix[1:], metadata=metadata, bbox_inches="tight", dpi=150)
        paths.append(path)
    plt.close(fig)
    return paths


def mode_style(mode: str, legend: str | None = None) -> dict:
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


def drawn_modes(
    results: list[dict], modes: Iterable[str | tuple[str, str | None]] | None = None
) -> list[tuple[str, str | None]]:
    """(mode, legend label) pairs to draw: ``modes`` as given (labels or pairs), else
    every mode of ``results`` but those of objective dm (the paper draws DM only in
    Fig. 3)."""
    if modes is not None:
        return [m if isinstance(m, tuple | list) else (m, None) for m in modes]
    objective = {r["mode"]: r.get("objective", r["mode"]) for r in results}
    return [(m, None) for m in objective if objective[m] != "dm"]


def legend_below(ax: Axes, columns: int, handles: list[Artist] | None = None) -> None:
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


def interval_band(
    ax: Axes, xs: Sequence[float], rows: list[dict], score: str, color: str | None
) -> None:
    """The 95% interval of ``score`` over ``rows`` as a shaded band (results that carry
    ``intervals``, run_results.RunResults.with_intervals; nothing otherwise)."""
    intervals = [(r.get("intervals") or {}).get(score) for r in rows]
    if rows and all(intervals):
        low, high = ([100 * i[end] for i in intervals] for end in ("low", "high"))
        ax.fill_between(xs, low, high, color=color, alpha=0.18, linewidth=0)
