"""Image grids: shortcut examples (Figs. 7, 12) and IRIs by depth (v2)."""

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from stitchkit.report.figures.style import paper_style

if TYPE_CHECKING:
    import torch


def image_grid(rows: list[tuple[str, object]], titles: list[str]) -> Figure:
    """Images in a grid: one row per (label, uint8 (N, C, H, W) images), the first
    ``len(titles)`` images of each, column c titled ``titles[c]``."""
    paper_style()
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


def shortcut_examples(
    clean: "tuple[torch.Tensor, torch.Tensor]",
    stamped: dict,
    class_names: list[str],
    per_row: int,
) -> Figure:
    """The paper's Fig. 7 / 12: the clean images on top, then one row per shortcut
    setting, showing the first test image of each of the first ``per_row`` classes;
    ``clean`` is (images, labels) and ``stamped`` maps setting names to the images with
    their shortcut (same order)."""
    images, labels = clean
    shown = [int((labels == c).nonzero()[0]) for c in range(per_row)]
    rows = [("clean", images[shown])] + [(name, row[shown]) for name, row in stamped.items()]
    return image_grid(rows, class_names[:per_row])


def iri_examples(sources: "torch.Tensor", rows: dict[str, object], titles: list[str]) -> Figure:
    """Source images on top (titled ``titles``), then one row per stitching point with
    their IRIs there (uint8 (N, C, H, W) tensors, same order): what the front keeps of
    an image at each depth."""
    return image_grid([("source", sources), *rows.items()], titles)
