"""The papers' testbeds built on stitching: class subsets (Sec. 3.2), cross-layer
matrices (Sec. 3.3), and v2's identically represented inputs (IRIs). The shortcut markers
live in stitchkit.data.shortcuts and PGD in stitchkit.models.attacks, since base
training uses them too.

May import: stitchkit.stitching and everything below it.
"""
