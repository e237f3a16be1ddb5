"""What is measured on a model or a stitch: v2's agreement with the end model, CKA and
the registry of similarity measures beside stitching, robust accuracy under AutoAttack
(and ART; named presets), per-sample outputs, and the bootstrap that turns them into
intervals.

May import: stitchkit.models, stitchkit.data, stitchkit.common.
"""
