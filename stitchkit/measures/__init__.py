"""What is measured on a model or a stitch: v2's agreement with the end model, CKA,
robust accuracy under AutoAttack, per-sample outputs, and the bootstrap that turns them
into intervals.

May import: stitchkit.models, stitchkit.data, stitchkit.common.
"""
