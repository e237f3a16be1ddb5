"""What a suite costs: stitches, trainings, FLOPs and GPU-hours per testbed, and its
wall time on 1, 8 and 64 GPUs from DVC's DAG.

Each stage's FLOPs come from stitchkit.pipeline.stage_cost (its docstring states the cost model).
Seconds = FLOPs / the assumed sustained rate (--tflops); a stage without model work
(prepare, shortcut, figures) is given CPU_STAGE_SECONDS. With `--measured
durations.json` (written by `stitchkit repro`), the script instead prints, per stage
kind, the rate the measured wall times imply: if the model is right the rate is about
the same for every kind.

    python benchmarks/suite_cost.py [--tflops 40] [--gpus 1 8 64]
"""

import argparse
import json
from collections import defaultdict
from pathlib import Path

from dag_schedule import simulate
from dvc.repo import Repo

from stitchkit.pipeline import dvc_stages
from stitchkit.pipeline.config import load_params
from stitchkit.pipeline.critical_path import longest_paths
from stitchkit.pipeline.stage_cost import TESTBEDS, StageCost, stage_cost

CPU_STAGE_SECONDS = 60.0  # assumed wall time of a stage without model work


def _table(costs: dict[str, StageCost], rate: float) -> None:
    rows = defaultdict(lambda: [0, 0, 0, 0.0, 0.0])
    for cost in costs.values():
        row = rows[cost.testbed]
        for n, value in enumerate(
            (1, cost.stitches, cost.trainings, cost.flops, cost.attack_flops)
        ):
            row[n] += value
    rows["**Total**"] = [sum(column) for column in zip(*rows.values(), strict=True)]
    print(
        "| Testbed | Stages | Stitches trained | Trainings | PFLOP | "
        "of which robust evaluation | GPU-hours |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for testbed in (*TESTBEDS, "**Total**"):
        if testbed in rows:
            stages, stitches, trainings, flops, attacks = rows[testbed]
            share = f"{attacks / flops:.0%}" if flops else "-"
            print(
                f"| {testbed} | {stages} | {stitches} | {trainings} | {flops / 1e15:,.1f} | "
                f"{share} | {flops / rate / 3600:,.1f} |"
            )


def _measured(costs: dict[str, StageCost], durations: Path) -> None:
    seconds = json.loads(durations.read_text())
    flops, wall = defaultdict(float), defaultdict(float)
    for stage, cost in costs.items():
        if cost.flops and stage in seconds:
            group = f"{stage.partition('@')[0]}: {cost.testbed}"
            flops[group] += cost.flops
            wall[group] += seconds[stage]
    print(f"{'stages':<44} {'TFLOP':>7} {'measured s':>11} {'implied GFLOP/s':>16}")
    for group in sorted(flops):
        rate = flops[group] / wall[group] / 1e9
        print(f"{group:<44} {flops[group] / 1e12:>7.2f} {wall[group]:>11.0f} {rate:>16.1f}")


def _critical_path(order: list[str], upstream: dict, tail: dict) -> list[str]:
    """The chain of stages whose durations add up to the critical path."""
    downstream = defaultdict(list)
    for name in order:
        for up in upstream[name]:
            downstream[up].append(name)
    path = [max((n for n in order if not upstream[n]), key=tail.get)]
    while downstream[path[-1]]:
        path.append(max(downstream[path[-1]], key=tail.get))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tflops", type=float, default=40.0, help="assumed sustained TFLOP/s")
    parser.add_argument("--gpus", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--measured", type=Path, help="durations.json of a stitchkit repro run")
    args = parser.parse_args()
    params = load_params()
    with Repo(".") as repo:
        plan = dvc_stages.plan(repo, [])
        order = [stage.addressing for stage in plan.stages]
        upstream = {s.addressing: [u.addressing for u in plan.upstream[s]] for s in plan.stages}
    costs = {stage: stage_cost(params, stage) for stage in order}
    if args.measured:
        _measured(costs, args.measured)
        return
    rate = args.tflops * 1e12
    print(f"{len(order)} stages; GPU-hours at an assumed sustained {args.tflops:g} TFLOP/s\n")
    _table(costs, rate)
    seconds = {s: c.flops / rate if c.flops else CPU_STAGE_SECONDS for s, c in costs.items()}
    tail = longest_paths(order, upstream, seconds)
    total, critical = sum(seconds.values()), max(tail.values())
    print(f"\ncritical path {critical / 3600:.1f} h of {total / 3600:.1f} h of work:")
    for stage in _critical_path(order, upstream, tail):
        print(f"  {stage} ({seconds[stage] / 3600:.1f} h)")
    print("| GPUs | Wall time (plan order) | Wall time (longest path first) |")
    print("|---:|---:|---:|")
    position = {name: i for i, name in enumerate(order)}
    for gpus in args.gpus:
        fifo = simulate(order, upstream, seconds, gpus, lambda n: position[n])
        longest = simulate(order, upstream, seconds, gpus, lambda n: -tail[n])
        print(f"| {gpus} | {fifo / 3600:.1f} h | {longest / 3600:.1f} h |")


if __name__ == "__main__":
    main()
