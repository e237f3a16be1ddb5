"""Fig. 6: CKA and FuLA similarity of the robustness configurations by point."""

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.figure import Figure

from stitchkit.report.figures.style import paper_style, suptitle


def similarity_plot(configs: dict[str, list[dict]], title: str) -> Figure:
    """The paper's Fig. 6: against the stitching point, per front -> end configuration,
    (a) linear CKA (solid; debiased dashed) between the end model's and the DM-initialised
    stitched model's penultimate features on adversarial examples crafted on the stitched
    model, (b) the accuracy of the FuLA stitch with all weight on the last hint (solid
    clean, dashed robust). ``configs`` maps labels to rows {point, cka, cka_debiased,
    fula_accuracy, fula_robust_accuracy}."""
    paper_style()
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
    suptitle(fig, title)
    return fig
