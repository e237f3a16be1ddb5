"""The papers' figures, drawn from result JSONs in the papers' style: one module per
figure family, and the style they share (style.py).

The Agg backend is set here, before any module of the package imports pyplot: figures
are written to files, never shown.
"""

import matplotlib

matplotlib.use("Agg")

from stitchkit.report.figures.agreement import (  # noqa: E402
    DATA_COLORS,
    agreement_figure,
    agreement_plot,
    cka_figure,
    panel_split,
)
from stitchkit.report.figures.cross_layer import (  # noqa: E402
    cross_layer_figure,
    cross_layer_heatmaps,
)
from stitchkit.report.figures.images import image_grid, iri_examples, shortcut_examples  # noqa: E402
from stitchkit.report.figures.similarity import similarity_plot  # noqa: E402
from stitchkit.report.figures.stitching import (  # noqa: E402
    merge_panels,
    stitching_grid,
    stitching_plot,
)
from stitchkit.report.figures.style import drawn_modes, save_figure  # noqa: E402
from stitchkit.report.figures.subsets import class_subset_figure, class_subset_plot  # noqa: E402
from stitchkit.report.figures.verdicts import verdict_forest  # noqa: E402

__all__ = [
    "DATA_COLORS",
    "agreement_figure",
    "agreement_plot",
    "class_subset_figure",
    "class_subset_plot",
    "cka_figure",
    "cross_layer_figure",
    "cross_layer_heatmaps",
    "drawn_modes",
    "image_grid",
    "iri_examples",
    "merge_panels",
    "panel_split",
    "save_figure",
    "shortcut_examples",
    "similarity_plot",
    "stitching_grid",
    "stitching_plot",
    "verdict_forest",
]
