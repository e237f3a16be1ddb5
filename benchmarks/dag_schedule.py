"""How the pipeline's wall time scales with workers: a simulation over DVC's DAG.

Reads the DAG of the current params.yaml from DVC and each stage's wall time from the
last `stitchkit repro` (.dvc/tmp/stitchkit-repro/durations.json), then replays the run
on 1, 2, 8, 64 ... workers (a worker = the cores or GPU one stage reserves). Two
orders are simulated: `stitchkit repro`'s (DVC's plan order among ready stages) and
longest-path-first. Printed beside them: the total work (one worker) and the critical
path (infinitely many workers), and the speed-up ratios against one worker.

Stage times are taken as they were measured, so the simulation ignores contention
(memory bandwidth, the driver's own work) and per-stage scheduling overhead.

    python benchmarks/dag_schedule.py [--workers 1 2 8 64]
"""

import argparse
import heapq
import json
import sys
from pathlib import Path

from dvc.repo import Repo

from stitchkit.pipeline import dvc_stages
from stitchkit.pipeline.critical_path import longest_paths
from stitchkit.pipeline.ray_repro import DURATIONS


def simulate(order: list[str], upstream: dict, seconds: dict, workers: int, priority) -> float:
    """Makespan of list scheduling: whenever a worker is free, start the ready stage
    that ``priority`` ranks first (lowest key)."""
    remaining = {name: len(upstream[name]) for name in order}
    downstream = {name: [] for name in order}
    for name in order:
        for up in upstream[name]:
            downstream[up].append(name)
    ready = [(priority(name), name) for name in order if remaining[name] == 0]
    heapq.heapify(ready)
    running: list[tuple[float, str]] = []
    now = 0.0
    while ready or running:
        while ready and len(running) < workers:
            _, name = heapq.heappop(ready)
            heapq.heappush(running, (now + seconds[name], name))
        now, name = heapq.heappop(running)
        for down in downstream[name]:
            remaining[down] -= 1
            if remaining[down] == 0:
                heapq.heappush(ready, (priority(down), down))
    return now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 8, 64])
    args = parser.parse_args()
    with Repo(".") as repo:
        plan = dvc_stages.plan(repo, [])
        durations_path = dvc_stages.log_dir(repo) / DURATIONS
        order = [stage.addressing for stage in plan.stages]
        upstream = {s.addressing: [u.addressing for u in plan.upstream[s]] for s in plan.stages}
    if not durations_path.exists():
        sys.exit(f"error: {durations_path} not found; run `stitchkit repro` first")
    seconds = json.loads(Path(durations_path).read_text())
    missing = [name for name in order if name not in seconds]
    if missing:
        sys.exit(
            f"error: no wall time for {len(missing)} stages ({missing[0]}, ...); "
            "run `stitchkit repro --force` once to time every stage"
        )
    tail = longest_paths(order, upstream, seconds)
    position = {name: i for i, name in enumerate(order)}
    total, critical = sum(seconds[n] for n in order), max(tail.values())
    print(
        f"{len(order)} stages, total work {total:.0f} s, critical path {critical:.0f} s "
        f"(at most {total / critical:.1f}x from parallelism)"
    )
    print(
        f"{'workers':>8} {'plan order':>12} {'speed-up':>9} {'longest first':>14} {'speed-up':>9}"
    )
    for workers in args.workers:
        fifo = simulate(order, upstream, seconds, workers, lambda n: position[n])
        longest = simulate(order, upstream, seconds, workers, lambda n: -tail[n])
        print(
            f"{workers:>8} {fifo:>11.0f}s {total / fifo:>8.2f}x {longest:>13.0f}s "
            f"{total / longest:>8.2f}x"
        )


if __name__ == "__main__":
    main()
