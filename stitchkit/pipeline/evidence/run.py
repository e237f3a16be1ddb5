"""`stitchkit evidence`: compose the evidence suite, run it, keep its record."""

import time
from typing import TYPE_CHECKING

from stitchkit.pipeline.evidence.record import commit, run_record, save_record, stitch_stream_figure

if TYPE_CHECKING:
    from stitchkit.pipeline.ray_repro import Outcome


def run_evidence(label: str, overrides: list[str], force: bool = False) -> "Outcome":
    """Composes suite=evidence with ``overrides``, takes the benchmark figure, runs the
    pipeline (every stage, with ``force``) and, if every stage succeeded, saves the run's
    record; the repro outcome."""
    from stitchkit.pipeline.config import load_params
    from stitchkit.pipeline.params_compose import compose_params
    from stitchkit.pipeline.ray_repro import repro

    revision = commit()  # before composing: params.yaml is tracked
    compose_params(["suite=evidence", *overrides])
    params = load_params()  # checked in full: a bad override fails here, not in every stage
    benchmark = stitch_stream_figure()
    started = time.perf_counter()
    outcome = repro([], force=force)
    wall = time.perf_counter() - started
    if outcome.ok:
        record = run_record(
            label,
            params,
            wall,
            outcome.seconds,
            benchmark,
            overrides,
            len(outcome.skipped),
            revision,
        )
        save_record(record)
    return outcome
