"""The verdicts at a glance: a forest plot of every claim's deciding effect with its 95%
interval, against its threshold, coloured by verdict (it heads reports/index.html and
docs/evidence.md)."""

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from stitchkit.report.figures.style import paper_style
from stitchkit.report.verdicts import CONTRADICTED, HOLDS, INCONCLUSIVE, UNMEASURED

if TYPE_CHECKING:
    from stitchkit.report.claims.base import Verdict

VERDICT_COLORS = {
    HOLDS: "#1a9850",
    CONTRADICTED: "#d73027",
    INCONCLUSIVE: "#f0a500",
    UNMEASURED: "#9e9e9e",
}


def verdict_forest(verdicts: Sequence["Verdict"]) -> Figure:
    """One row per claim (takeaways.Verdict): the deciding measurement's effect minus
    its threshold, oriented so that right of 0 is the claim's side, with its interval;
    rows of unmeasured claims stay empty. Effects are in their own units (fractions of
    accuracy or agreement; a Kendall tau for the CKA check)."""
    paper_style()
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(verdicts) + 1.6), layout="constrained")
    for row, v in enumerate(verdicts):
        m, y = v.deciding, len(verdicts) - 1 - row
        color = VERDICT_COLORS[v.verdict]
        if m is None:
            ax.text(0, y, "not measured", color=color, ha="center", va="center", fontsize=9)
            continue
        sign = 1 if m.above else -1
        low, high = sorted(sign * (x - m.threshold) for x in (m.effect.low, m.effect.high))
        centre = sign * (m.effect.value - m.threshold)
        ax.errorbar(
            centre,
            y,
            xerr=[[max(centre - low, 0)], [max(high - centre, 0)]],
            fmt="o",
            color=color,
            capsize=3,
            markersize=6,
        )
    ax.axvline(0, color="black", linewidth=1)
    ax.set_yticks(range(len(verdicts)))
    ax.set_yticklabels(
        [textwrap.shorten(f"{v.check} ({v.section})", 60) for v in reversed(verdicts)],
        fontsize=9,
    )
    ax.set_xlabel("effect minus threshold, claim's side to the right (95% interval)")
    fig.legend(
        handles=[
            Line2D([], [], marker="o", linestyle="none", color=c, label=k)
            for k, c in VERDICT_COLORS.items()
        ],
        loc="outside lower center",
        ncols=4,
        frameon=False,
    )
    ax.set_title("Do the papers' claims hold? Each claim's deciding effect", fontsize="medium")
    return fig
