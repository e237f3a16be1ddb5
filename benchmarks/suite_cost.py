"""What a suite costs: stitches, trainings, FLOPs and GPU-hours per testbed, and its
wall time on 1, 8 and 64 GPUs from DVC's DAG.

Each stage's FLOPs come from its validated params and forward FLOPs per image that
torch's FlopCounterMode counts on each model (whole model, front up to every point, end
from every point). The cost model, per image:

- a training step costs 3 forward passes (backward with weight gradients: 2);
- a PGD step, or a step through the frozen end of a stitch: 2 (activation gradients
  only); Hint stops at the stitch layer, but under `bn: train` still runs the end
  forward, as every trained stitch does;
- AutoAttack ("rand"): APGD-CE on every test image, APGD-DLR on the share still robust
  (ROBUST_SHARE where the model or stitch meets adversarial training, else none), each
  `iterations` x `eot_iterations` PGD-like steps; ART's APGD without EOT;
- evaluation: one forward per test image and split.

BatchNorm, activations and the optimiser are not counted (FlopCounterMode counts
matmuls and convolutions). Seconds = FLOPs / the assumed sustained rate (--tflops); a
stage without GPU work (prepare, shortcut, report) is given CPU_STAGE_SECONDS. With
`--measured durations.json` (written by `stitchkit repro`), the script instead prints,
per stage kind, the rate the measured wall times imply: if the model is right the rate
is about the same for every kind.

    python benchmarks/suite_cost.py [--tflops 40] [--gpus 1 8 64]
"""

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
from dag_schedule import longest_paths, simulate
from dvc.repo import Repo
from torch.utils.flop_counter import FlopCounterMode

from stitchkit import dvc_stages
from stitchkit.config import (
    clean_source,
    load_params,
    panel_job,
    robust_evaluation,
    similarity_job,
    subset_job,
    training_job,
)
from stitchkit.models import RESNETS, ModelSpec, build_model
from stitchkit.stitch_layer import stitch_layer

# (training images, test images, channels, classes) of each dataset as prepared
DATASET_SIZES = {
    "cifar10": (50_000, 10_000, 3, 10),
    "ls-imagenet-10": (13_000, 500, 3, 10),  # 1,300 training and 50 validation images a class
    "fashion-mnist": (60_000, 10_000, 1, 10),
    "digits": (1_347, 450, 1, 10),  # scikit-learn's 1,797 digits, a quarter held out
}
ROBUST_SHARE = 0.5  # assumed share of test images that survive APGD-CE on robust models
CPU_STAGE_SECONDS = 60.0  # assumed wall time of a stage without GPU work
TRAIN_PASSES, GRAD_PASSES = 3, 2  # forward-pass equivalents of a weight step / input step
TESTBEDS = (
    "Base models (Table 1)",
    "Self-stitching, Fig. 3",
    "Adversarial training (Sec. 3.1)",
    "Shortcuts (Sec. 3.2)",
    "Class subsets (Sec. 3.2)",
    "Cross-layer (Sec. 3.3)",
    "VGG16-BN and ViT-Tiny (v2)",
    "Data and figures (CPU)",
)


@dataclass(frozen=True)
class ModelFlops:
    """Forward FLOPs per image: the whole model, front[k] up to point k, end[k] from
    point k, and the (channels, height, width) of the activation at k."""

    total: float
    front: dict[int, float]
    end: dict[int, float]
    shape: dict[int, tuple[int, int, int]]


@dataclass
class StageCost:
    """A stage's testbed, FLOPs (``attack_flops`` of them robust evaluation), and the
    stitches and base models it trains."""

    testbed: str
    flops: float = 0.0
    attack_flops: float = 0.0
    stitches: int = 0
    trainings: int = 0


def _flops(fn, *args) -> float:
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return float(counter.get_total_flops())


@cache
def model_flops(arch: str, width: int, depth: int | None, channels: int, classes: int):
    """The FLOPs of a model of ``arch`` (a ModelFlops)."""
    spec = ModelSpec(
        arch, classes, channels, width, (0.0,) * channels, (1.0,) * channels, depth=depth
    )
    model = build_model(spec).eval()
    x = torch.zeros(1, *spec.input_shape)
    front, end, shape = {}, {}, {}
    with torch.no_grad():
        for k in range(1, model.num_points + 1):
            h = model.forward_to(x, k)
            front[k], end[k], shape[k] = (
                _flops(model.forward_to, x, k),
                _flops(model.forward_from, h, k),
                tuple(h.shape[1:]),
            )
        return ModelFlops(_flops(model, x), front, end, shape)


def dataset_sizes(params: dict, dataset: str) -> tuple[int, int, int, int]:
    name = clean_source(params, dataset)
    if name not in DATASET_SIZES:
        sys.exit(f"error: no size for dataset {name!r}; add it to DATASET_SIZES")
    return DATASET_SIZES[name]


def flops_of(params: dict, model_id: str) -> ModelFlops:
    job = training_job(params, model_id)
    _, _, channels, classes = dataset_sizes(params, job.dataset)
    return model_flops(job.arch, job.width, job.depth, channels, classes)


def _is_robust(params: dict, model_id: str) -> bool:
    return training_job(params, model_id).recipe.adversarial is not None


def autoattack_flops(params: dict, forward: float, test_images: int, robust: bool) -> float:
    """FLOPs of `robust_eval` on one model of ``forward`` FLOPs per image."""
    s = robust_evaluation(params)
    n = min(s.samples or test_images, test_images)
    steps = s.iterations * (s.eot_iterations if s.backend == "autoattack" else 1)
    attacked = 1 + (ROBUST_SHARE if robust else 0.0)
    return n * forward * (2 + attacked * steps * GRAD_PASSES)


@cache
def _layer_flops(front_shape: tuple, end_shape: tuple) -> float:
    with torch.no_grad():
        return _flops(stitch_layer(front_shape, end_shape), torch.zeros(1, *front_shape))


def _stitch_flops(front: ModelFlops, end: ModelFlops, i: int, j: int) -> float:
    """The stitch layer's FLOPs per image (e.g. a 1x1 convolution at the end's size)."""
    return _layer_flops(front.shape[i], end.shape[j])


def panel_flops(params: dict, job, train_images: int, test_images: int, splits: int):
    """(FLOPs, of which robust evaluation, trained stitches) of fitting and scoring every
    stitch of a panel."""
    r = job.recipe
    front, end = flops_of(params, job.front), flops_of(params, job.end)
    n_train = min(r.train_samples or train_images, train_images)
    n_test = min(r.eval_samples or test_images, test_images)
    adversarial = getattr(job, "adversarial", None)  # class subsets have none
    alpha = adversarial.alpha if adversarial else 0.0
    pgd_steps = adversarial.steps if adversarial else 0
    trained_modes = [m for m in job.modes.values() if m["objective"] != "dm" or m["recalibrate"]]
    deepest = max(i for i, _ in job.pairs)
    per_image = end.total + front.front[deepest]  # the shared reference and front passes
    evaluation = attacks = 0.0
    for i, j in job.pairs:
        layer = _stitch_flops(front, end, i, j)
        stitched = front.front[i] + layer + end.end[j]
        for mode in trained_modes:
            backward = 0.0 if mode["recalibrate"] or mode["objective"] == "hint" else end.end[j]
            per_image += end.end[j] + backward + TRAIN_PASSES * layer
            if alpha > 0:  # PGD on the stitched model, then its own reference and front
                per_image += alpha * (
                    pgd_steps * GRAD_PASSES * stitched + end.total + front.front[i]
                )
        evaluation += len(job.modes) * n_test * splits * (end.end[j] + layer)
        if adversarial:
            robust = alpha > 0 or _is_robust(params, job.end)
            attacks += len(job.modes) * autoattack_flops(params, stitched, test_images, robust)
    flops = r.epochs * n_train * per_image + evaluation + attacks
    return flops, attacks, len(trained_modes) * len(job.pairs)


def _base_testbed(arch: str) -> str:
    """Table 1's ResNets, or v2's other architectures."""
    return TESTBEDS[0] if arch in RESNETS else TESTBEDS[6]


def stage_cost(params: dict, stage: str) -> StageCost:
    kind, _, key = stage.partition("@")
    if kind == "train":
        job = training_job(params, key)
        n_train, n_test, _, _ = dataset_sizes(params, job.dataset)
        r, f = job.recipe, flops_of(params, key).total
        n_train = min(r.train_samples or n_train, n_train)
        adv = r.adversarial
        pgd = adv.alpha * adv.steps * GRAD_PASSES if adv else 0.0
        evals = -(-r.epochs // r.eval_every)
        flops = r.epochs * n_train * f * (TRAIN_PASSES + pgd) + evals * n_test * f
        return StageCost(_base_testbed(job.arch), flops, trainings=1)
    if kind == "robustness":
        job = training_job(params, key)
        _, n_test, _, _ = dataset_sizes(params, job.dataset)
        flops = autoattack_flops(
            params, flops_of(params, key).total, n_test, _is_robust(params, key)
        )
        return StageCost(_base_testbed(job.arch), flops, attack_flops=flops)
    if kind == "stitch":
        job = panel_job(params, key)
        n_train, n_test, _, _ = dataset_sizes(params, job.data)
        shortcut = job.data in (params.get("shortcuts") or {})
        flops, attacks, stitches = panel_flops(params, job, n_train, n_test, 3 if shortcut else 1)
        archs = {training_job(params, m).arch for m in (job.front, job.end)}
        if not archs <= set(RESNETS):
            testbed = TESTBEDS[6]
        elif job.adversarial:
            testbed = TESTBEDS[2]
        elif shortcut:
            testbed = TESTBEDS[3]
        elif any(i != j for i, j in job.pairs):
            testbed = TESTBEDS[5]
        else:
            testbed = TESTBEDS[1]
        return StageCost(testbed, flops, attacks, stitches)
    if kind == "subset":
        job = subset_job(params, key)
        n_train, n_test, _, classes = dataset_sizes(params, job.data)
        cost = StageCost(TESTBEDS[4])
        for k in job.classes:
            flops, _, stitches = panel_flops(params, job, n_train * k // classes, n_test, 1)
            cost.flops += flops
            cost.stitches += stitches
        return cost
    if kind == "similarity":
        similarity = similarity_job(params, key)
        cost = StageCost(TESTBEDS[2])
        for job in similarity.panels.values():
            front, end = flops_of(params, job.front), flops_of(params, job.end)
            for i, j in job.pairs:
                stitched = front.front[i] + end.end[j]
                passes = job.adversarial.steps * GRAD_PASSES + 3  # PGD, then the features
                cost.flops += similarity.samples * stitched * passes
        return cost
    return StageCost(TESTBEDS[7])


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
