"""Longest-path-first ranks of a DAG's stages, for list scheduling.

A stage's rank is its own cost plus the costliest chain of stages that wait on it.
Starting the highest-ranked ready stage first keeps long chains (a robust model, then
its adversarial panels) from starting behind many short stages.
"""

from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stitchkit.pipeline.dvc_stages import Plan


def longest_paths(order: Sequence[Hashable], upstream: dict, cost: dict) -> dict:
    """Each stage's ``cost`` plus the largest total cost of a chain of stages that
    depend on it; ``order`` lists every stage after its ``upstream`` stages."""
    downstream: dict = {name: [] for name in order}
    for name in order:
        for up in upstream[name]:
            downstream[up].append(name)
    tail: dict = {}
    for name in reversed(order):
        tail[name] = cost[name] + max((tail[d] for d in downstream[name]), default=0.0)
    return tail


def stage_ranks(plan: "Plan", cost_of: Callable[[str], float]) -> dict:
    """The longest-path rank of each stage of a dvc_stages.Plan, from ``cost_of`` its
    address (e.g. ``stitch@<panel>``). Every stage counts at least one unit, so that
    among stages without model work a longer chain still ranks first."""
    cost = {stage: 1.0 + cost_of(stage.addressing) for stage in plan.stages}
    return longest_paths(plan.stages, plan.upstream, cost)
