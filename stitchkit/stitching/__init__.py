"""Model stitching itself: the stitch layer T and DM's least-squares fit, the five
objectives (DM, Hint, SLM, TLM, FuLA), the stitch recipe, BatchNorm state per stitch, a
fitted stitch as one module, stacked (vmapped) stitches, and the panel trainer with
`stitch()`.

May import: stitchkit.measures, stitchkit.models, stitchkit.data, stitchkit.common.
"""
