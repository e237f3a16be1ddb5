"""What a suite costs: stitches, trainings, FLOPs and hours per testbed, its wall time on
1, 8 and 64 workers (GPUs) from DVC's DAG, what each cost lever cut, and the stitches it
computes twice or no figure draws (stitchkit.pipeline.stitch_census).

Each stage's FLOPs, split by kernel family, come from stitchkit.pipeline.stage_cost (its
docstring states the cost model). Seconds = each family's FLOPs / that family's
throughput, measured on this machine by benchmarks/kernel_rates.py on a ResNet18 of the
suite's main width and input (with `compute.cpu_threads` threads on a CPU), or a given
rate for all (--tflops); FLOPs stay the machine-independent column. A stage without
model work (prepare, shortcut, figures) is given CPU_STAGE_SECONDS. With `--measured
durations.json` (written by `stitchkit repro`), the script instead compares, per stage
kind, the projected seconds with the measured ones: if the cost model is right, the
ratio is about the same for every kind (stage start-up and data handling, which it
does not count, add a share that shrinks with a stage's size).

    python benchmarks/suite_cost.py [--tflops 40] [--gpus 1 8 64] [--measured FILE]
"""

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

import torch
from dag_schedule import simulate
from dvc.repo import Repo
from kernel_rates import measure_rates

from stitchkit.common.compute import compute_settings
from stitchkit.models.params import training_job
from stitchkit.pipeline import dvc_stages
from stitchkit.pipeline.config import load_params
from stitchkit.pipeline.critical_path import longest_paths
from stitchkit.pipeline.stage_cost import FAMILIES, TESTBEDS, StageCost, dataset_sizes, stage_cost
from stitchkit.pipeline.stitch_census import repeats, undrawn

CPU_STAGE_SECONDS = 60.0  # assumed wall time of a stage without model work


def _seconds(cost: StageCost, rates: dict[str, float]) -> float:
    if not cost.flops:
        return CPU_STAGE_SECONDS
    return sum(flops / rates[family] for family, flops in cost.families.items())


def _pflop(flops: float) -> str:
    """PFLOP, with the digits that a small suite needs."""
    return f"{flops / 1e15:,.1f}" if flops >= 1e16 else f"{flops / 1e15:.4f}"


def _table(costs: dict[str, StageCost], rates: dict[str, float]) -> None:
    rows = defaultdict(lambda: [0, 0, 0, 0.0, 0.0, 0.0, 0.0])
    for cost in costs.values():
        row, seconds = rows[cost.testbed], _seconds(cost, rates) if cost.flops else 0.0
        for n, value in enumerate(
            (1, cost.stitches, cost.trainings, cost.flops, cost.attack_flops, seconds)
        ):
            row[n] += value
        row[6] = max(row[6], seconds)
    total = [sum(column) for column in zip(*rows.values(), strict=True)]
    rows["**Total**"] = total[:6] + [max(row[6] for row in rows.values())]
    print(
        "| Testbed | Stages | Stitches trained | Trainings | PFLOP | of which robust "
        "evaluation | Hours | Longest stage (h) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for testbed in (*TESTBEDS, "**Total**"):
        if testbed in rows:
            stages, stitches, trainings, flops, attacks, seconds, longest = rows[testbed]
            share = f"{attacks / flops:.0%}" if flops else "-"
            print(
                f"| {testbed} | {stages} | {stitches} | {trainings} | {_pflop(flops)} | "
                f"{share} | {seconds / 3600:,.1f} | {longest / 3600:,.1f} |"
            )


def _wall_times(order, upstream, seconds: dict[str, float], gpus: list[int]) -> dict[int, float]:
    """Makespan on each number of workers, longest path first (`stitchkit repro`)."""
    tail = longest_paths(order, upstream, seconds)
    return {n: simulate(order, upstream, seconds, n, lambda s: -tail[s]) for n in gpus}


def _levers(params: dict, order, upstream, rates, gpus: list[int]) -> None:
    """The suite as written before each lever, then with each added in turn."""
    as_written = {**params, "stitch_robust_eval": {}}
    steps = [
        ("AutoAttack with 20 EOT samples, stitches attacked as Table 1", as_written, 20),
        ("+ one EOT sample on deterministic models (identical results)", as_written, 1),
        ("+ the suite's own stitch attack (`stitch_robust_eval:`)", params, 1),
    ]
    head = " | ".join(f"{n} workers (h)" for n in gpus)
    print(f"| Lever | PFLOP | Hours | {head} | Longest stage / total |")
    print("|---|---:|---:|" + "---:|" * len(gpus) + "---:|")
    for label, p, eot in steps:
        costs = {s: stage_cost(p, s, eot_samples=eot) for s in order}
        seconds = {s: _seconds(c, rates) for s, c in costs.items()}
        walls = _wall_times(order, upstream, seconds, gpus)
        flops, total = sum(c.flops for c in costs.values()), sum(seconds.values())
        cells = " | ".join(f"{walls[n] / 3600:,.1f}" for n in gpus)
        print(
            f"| {label} | {_pflop(flops)} | {total / 3600:,.1f} | {cells} | "
            f"{max(seconds.values()) / total:.1%} |"
        )


def _census(params: dict) -> None:
    """The stitches computed twice (each beyond the first of its group) and the stitches
    no figure draws, with their FLOPs."""
    again = [ref for group in repeats(params) for ref in group[1:]]
    unseen = undrawn(params)
    dm = [ref for ref in unseen if ref.mode == "dm"]
    rows = (
        ("computed twice (each repeat)", again),
        ("drawn by no figure: DM", dm),
        ("drawn by no figure: other modes", [ref for ref in unseen if ref.mode != "dm"]),
    )
    print("| Stitches | Count | PFLOP | Panels |\n|---|---:|---:|---|")
    for label, refs in rows:
        panels = sorted({ref.panel for ref in refs})
        shown = ", ".join(panels[:3]) + (f" and {len(panels) - 3} more" if len(panels) > 3 else "")
        flops = sum(ref.flops(params) for ref in refs)
        print(f"| {label} | {len(refs)} | {_pflop(flops)} | {shown or '-'} |")


def _main_model(params: dict) -> tuple[int, tuple[int, int, int]]:
    """(width, input shape) of the suite's most common ResNet18 training job."""
    jobs = [training_job(params, m) for m in params["models"]]
    width, dataset = Counter(
        (j.width, j.dataset) for j in jobs if j.arch == "resnet18"
    ).most_common(1)[0][0]
    channels = dataset_sizes(params, dataset)[2]
    side = 32 if channels == 3 else 28  # CIFAR-10 and LS-ImageNet-10; Fashion-MNIST, digits
    return width, (channels, side, side)


def _rates(params: dict, tflops: float | None) -> dict[str, float]:
    if tflops is not None:
        print(f"rates: an assumed sustained {tflops:g} TFLOP/s for every kernel family\n")
        return dict.fromkeys(FAMILIES, tflops * 1e12)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(compute_settings(params).cpu_threads)
    width, shape = _main_model(params)
    rates = measure_rates(device, width, shape)
    measured = ", ".join(f"{f} {r / 1e9:,.1f}" for f, r in rates.items())
    where = f"{device.type}, {torch.get_num_threads()} thread(s)" if device.type == "cpu" else ""
    print(f"rates measured here ({where or torch.cuda.get_device_name()}; ResNet18 width")
    print(f"{width}, input {'x'.join(map(str, shape))}), GFLOP/s: {measured}\n")
    return rates


def _measured(costs: dict[str, StageCost], rates: dict[str, float], durations: Path) -> None:
    measured = json.loads(durations.read_text())
    projected, wall = defaultdict(float), defaultdict(float)
    for stage, cost in costs.items():
        if cost.flops and stage in measured:
            group = f"{stage.partition('@')[0]}: {cost.testbed}"
            projected[group] += _seconds(cost, rates)
            wall[group] += measured[stage]
    print(f"{'stages':<52} {'projected s':>11} {'measured s':>11} {'measured/projected':>19}")
    for group in sorted(projected):
        ratio = wall[group] / projected[group]
        print(f"{group:<52} {projected[group]:>11.0f} {wall[group]:>11.0f} {ratio:>19.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tflops", type=float, help="a rate for every family (default: measure)")
    parser.add_argument("--gpus", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--measured", type=Path, help="durations.json of a stitchkit repro run")
    args = parser.parse_args()
    params = load_params()
    with Repo(".") as repo:
        plan = dvc_stages.plan(repo, [])
        order = [stage.addressing for stage in plan.stages]
        upstream = {s.addressing: [u.addressing for u in plan.upstream[s]] for s in plan.stages}
    rates = _rates(params, args.tflops)
    costs = {stage: stage_cost(params, stage) for stage in order}
    if args.measured:
        _measured(costs, rates, args.measured)
        return
    print(f"{len(order)} stages; hours at the rates above\n")
    _table(costs, rates)
    seconds = {s: _seconds(c, rates) for s, c in costs.items()}
    walls = _wall_times(order, upstream, seconds, args.gpus)
    total = sum(seconds.values())
    print("\n| Workers | Wall time (h) | Total / workers (h) |")
    print("|---:|---:|---:|")
    for n, wall in walls.items():
        print(f"| {n} | {wall / 3600:,.1f} | {total / n / 3600:,.1f} |")
    print("\nWhat each lever cut:\n")
    _levers(params, order, upstream, rates, args.gpus)
    print("\nStitches computed twice, or drawn by no figure:\n")
    _census(params)


if __name__ == "__main__":
    main()
