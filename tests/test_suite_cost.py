"""The cost model (stitchkit.pipeline.stage_cost), the longest-path ranks that `stitchkit repro`
schedules by, and the DAG simulation of benchmarks/dag_schedule.py."""

import copy
import sys
from dataclasses import replace

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map
from torch.utils.flop_counter import flop_registry

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from dag_schedule import simulate  # noqa: E402
from kernel_rates import measure_rates  # noqa: E402
from test_suites import composed  # noqa: E402

from stitchkit.measures.robustness import RobustEvaluation  # noqa: E402
from stitchkit.models.architectures import ModelSpec, build_model  # noqa: E402
from stitchkit.models.attacks import AdversarialTraining  # noqa: E402
from stitchkit.pipeline.critical_path import longest_paths  # noqa: E402
from stitchkit.pipeline.stage_cost import (  # noqa: E402
    FAMILIES,
    GRAD_PASSES,
    TRAIN_PASSES,
    flops_of,
    model_flops,
    panel_stitch_flops,
    robust_eval_flops,
    shared_flops,
    shared_flops_per_image,
    stack_of,
    stage_cost,
    stitch_training_flops_per_image,
)
from stitchkit.stitching.params import panel_job  # noqa: E402
from stitchkit.stitching.recipe import StitchRecipe, make_spec  # noqa: E402
from stitchkit.stitching.trainer import PanelTrainer  # noqa: E402


def test_resnet18_flops_match_the_published_count_and_split_into_front_and_end():
    flops = model_flops("resnet18", 64, None, 3, 10)
    # the CIFAR ResNet18 (kuangliu, Madry's robustness) is 0.56 GMACs: 1.11 GFLOPs
    assert flops.total == pytest.approx(1.11e9, rel=0.01)
    for k in range(1, 10):
        assert flops.front[k] + flops.end[k] == pytest.approx(flops.total)
    assert flops.shape[1] == (64, 32, 32) and flops.shape[9] == (512, 4, 4)


def test_robust_evaluation_cost_by_hand():
    settings = RobustEvaluation(samples=100, iterations=10, eot_iterations=20)
    # two clean passes; APGD-CE on all 100 images, APGD-DLR on half of them on robust
    # models; each 10 steps of forward and input gradient (2 passes): one EOT sample, as
    # every model here is deterministic (test_adversarial: the examples of 20 are equal)
    assert robust_eval_flops(settings, 1.0, 10_000, robust=False) == 100 * (2 + 10 * 2)
    assert robust_eval_flops(settings, 1.0, 10_000, robust=True) == 100 * (2 + 1.5 * 10 * 2)
    assert robust_eval_flops(settings, 1.0, 50, robust=False) == 50 * (2 + 10 * 2)


def test_stage_flops_split_into_kernel_families_by_hand(tmp_path):
    """A robust model's training: weight steps, PGD steps (alpha 0.5 of 5 steps) and its
    evaluations; an adversarial panel's attacks take EOT samples only when asked."""
    params = composed(tmp_path, "evidence")
    model = "fashion-mnist_0-resnet18-robust"
    f, images = flops_of(params, model).total, 12_000 * 4  # train_samples x epochs
    cost = stage_cost(params, f"train@{model}")
    assert cost.families == pytest.approx(
        {
            "training": images * f * TRAIN_PASSES,
            "pgd": images * f * 0.5 * 5 * GRAD_PASSES,
            "evaluation": 1 * 10_000 * f,  # eval_every 4: once
        }
    )
    panel = stage_cost(params, "stitch@at1-same-task-nr-nr")
    assert set(panel.families) == {"stitch", "pgd", "attack", "evaluation"} <= set(FAMILIES)
    assert panel.flops == pytest.approx(sum(panel.families.values()))
    with_eot = stage_cost(params, "stitch@at1-same-task-nr-nr", eot_samples=20)
    assert with_eot.attack_flops > 15 * panel.attack_flops  # AutoAttack, 20 iterations
    assert with_eot.families["stitch"] == panel.families["stitch"]


@pytest.mark.parametrize("panel", ["at1-same-task-nr-nr", "cross-seed-resnet18"])
def test_a_panel_costs_its_shared_passes_plus_each_stitch(tmp_path, panel):
    """The per-stitch FLOPs that the stitch census adds up are the panel's, less the
    passes its stitches share: none under adversarial training's batch mix, else the
    front and reference passes (epochs x images x (reference + front to the deepest
    point))."""
    params = composed(tmp_path, "evidence")
    job = panel_job(params, panel)
    front, end = flops_of(params, job.front), flops_of(params, job.end)
    shared = shared_flops(params, job, 10**9)
    if job.adversarial:
        assert shared == 0
    else:
        images = job.recipe.epochs * job.recipe.train_samples
        assert shared == images * (end.total + front.front[max(i for i, _ in job.pairs)])
    stitches = sum(
        panel_stitch_flops(params, job.name, pair, mode) for pair in job.pairs for mode in job.modes
    )
    assert stage_cost(params, f"stitch@{job.name}").flops == pytest.approx(shared + stitches)


class _CountedFlops(TorchDispatchMode):
    """The matmul and convolution FLOPs of every op run while ``counting`` (the ops
    and formulas of torch's FlopCounterMode, which cannot follow autograd.grad)."""

    def __init__(self):
        super().__init__()
        self.flops, self.counting = 0, True

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        formula = flop_registry.get(func._overloadpacket)
        if formula and self.counting:
            shape = lambda t: t.shape if isinstance(t, torch.Tensor) else t  # noqa: E731
            (shapes, kwarg_shapes), out_shape = tree_map(shape, (args, kwargs or {})), out
            self.flops += formula(*shapes, **kwarg_shapes, out_val=tree_map(shape, out_shape))
        return out


MODES = {
    "dm": {"objective": "dm", "recalibrate": False},
    "dm-rs": {"objective": "dm", "recalibrate": True},
    "hint": {"objective": "hint", "recalibrate": False},
    "slm": {"objective": "slm", "recalibrate": False},
    "tlm": {"objective": "tlm", "recalibrate": False},
    "fula": {"objective": "fula", "recalibrate": False},
    "fula-first-2": {"objective": "fula", "weights": "first-2", "recalibrate": False},
    "fula-soft": {"objective": "fula", "soft": True, "recalibrate": False},
}


BATCH_MIX = AdversarialTraining(alpha=1.0, steps=2)


@pytest.mark.parametrize(
    ("modes", "adversarial", "batching"),
    [
        (list(MODES), None, "per-stitch"),
        (["tlm"], None, "per-stitch"),  # no reference pass at all
        (["hint", "fula-first-2"], None, "per-stitch"),  # a reference pass to a point
        (list(MODES), BATCH_MIX, "per-stitch"),
        (list(MODES), AdversarialTraining(alpha=0.5, steps=2), "per-stitch"),
        (list(MODES), AdversarialTraining(alpha=0.5, steps=2, mix="loss"), "per-stitch"),
        # a stack's gradient runs back from the deepest read of any of its stitches
        (["dm-rs", "hint", "fula-first-2", "tlm"], BATCH_MIX, "stacked"),
        (["hint", "slm"], None, "iris"),  # the shared passes run once per front point
    ],
    ids=["clean", "tlm", "hint", "batch-mix-1", "batch-mix-0.5", "loss-mix-0.5", "stack", "iris"],
)
def test_the_cost_model_counts_what_a_panel_trains(digits, modes, adversarial, batching):
    """The FLOPs a panel's training runs, counted as they run, are the cost model's:
    its shared passes plus each stitch's (each reference pass only as far as its
    objective reads, PGD on the share alpha of a batch or on all of it, ...)."""
    mean, std = digits.channel_stats()
    model = build_model(ModelSpec("resnet18", 10, 1, 8, mean, std)).eval()
    flops = model_flops("resnet18", 8, None, 1, 10)
    pairs = [(3, 3), (5, 5), (4, 6)]
    chosen = {label: MODES[label] for label in modes}
    specs = [
        make_spec(label, i, j, model, **mode) for i, j in pairs for label, mode in chosen.items()
    ]
    recipe = StitchRecipe(
        epochs=1, batch_size=64, train_samples=128, crop_padding=0, hflip=False, lr_drops=()
    )
    iris = {i: digits for i, _ in pairs} if batching == "iris" else None  # as IRIs: same shape
    recipe = replace(recipe, batching="per-stitch" if iris else batching)
    trainer = PanelTrainer(
        model, copy.deepcopy(model), digits, specs, recipe, "cpu", adversarial, iris=iris
    )
    inits = trainer.layers.initial(trainer.specs)
    counter, evaluate = _CountedFlops(), trainer.scores.evaluate_all

    def uncounted(*args):
        counter.counting = False
        return evaluate(*args)

    trainer.scores.evaluate_all = uncounted
    with counter:
        trainer._train(inits, None, progress=False)
    per_image = shared_flops_per_image(flops, flops, pairs, chosen, bool(iris), adversarial)
    for pair in pairs:
        for mode in chosen.values():
            stack = stack_of(mode, chosen, recipe.batching, adversarial)
            stitch = stitch_training_flops_per_image(flops, flops, pair, mode, adversarial, stack)
            per_image += sum(stitch.values())
    # within 0.2%: under vmap, a stacked step on per-stitch batches also takes the stitch
    # layer's input gradient (about a layer pass a stitch, 0.1% here; more in larger
    # stacks); a reference pass to a point is 1% and more
    expected = 128 * per_image
    assert counter.flops == pytest.approx(expected, rel=2e-3), (counter.flops, expected)


def test_kernel_rates_are_measured_for_every_family():
    rates = measure_rates(
        torch.device("cpu"), width=4, shape=(1, 28, 28), batch=8, min_run_time=0.05
    )
    assert set(rates) == set(FAMILIES) and all(0 < r < 1e15 for r in rates.values())


def test_simulated_makespan_of_a_diamond():
    order = ["a", "b", "c", "d"]
    upstream = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    seconds = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 1.0}
    first = {name: n for n, name in enumerate(order)}
    assert simulate(order, upstream, seconds, 1, first.get) == 7.0
    assert simulate(order, upstream, seconds, 2, first.get) == 5.0
    assert longest_paths(order, upstream, seconds) == {"a": 5.0, "b": 3.0, "c": 4.0, "d": 1.0}


def test_evidence_suite_costs_rank_the_adversarial_panels_first(tmp_path):
    """The measured order of the evidence suite's costliest stages (docs/evidence.md:
    the four alpha = 1 panels, then the two cross-layer panels, then the shortcut
    panels), and IRIs are counted."""
    params = composed(tmp_path, "evidence")
    flops = {
        name: stage_cost(params, name).flops
        for name in (
            "stitch@at1-same-task-nr-nr",
            "stitch@xl-fula-depth-resnet18",
            "stitch@pixels-cross-task-resnet18",
            "stitch@cross-seed-resnet18",
        )
    }
    assert list(flops) == sorted(flops, key=flops.get, reverse=True)
    assert stage_cost(params, "iris@fashion-mnist_1-resnet18-9").flops > 0
    assert stage_cost(params, "iri-stitch@iris-cross-seed-resnet18").flops > 0
    assert stage_cost(params, "report").flops == 0
