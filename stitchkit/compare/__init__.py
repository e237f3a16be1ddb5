"""How alike two models are, layer by layer: `compare()` and `stitchkit compare`.

The two sides and their points (sides.py), the stitch recipe presets (recipes.py), the
table of stitching results and similarity measures with their intervals
(comparison.py), its heatmaps (heatmaps.py), HTML page (page.py) and files
(outputs.py), and the params of `comparisons:` stages (params.py).

May import: stitchkit.report, stitchkit.stitching, stitchkit.measures, stitchkit.models,
stitchkit.data, stitchkit.common.
"""
