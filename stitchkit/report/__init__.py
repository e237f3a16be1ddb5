"""From results to what a reader sees: the papers' figures, the claims as checks with
verdicts, every scalar with its interval as DVC metrics, and the index of a run.

May import: stitchkit.testbeds and everything below it; never the pipeline.
"""
