"""What each pipeline stage computes, in FLOPs, from its validated params.

Forward FLOPs per image come from torch's FlopCounterMode on each model (whole model,
front up to every point, end from every point). Per image:

- a training step costs 3 forward passes (backward with weight gradients: 2);
- a PGD or IRI step: 2 (activation gradients only);
- a stitch's step: the end forward to the logits (under `bn: train` every end
  statistic follows the stitched activations), the activation gradient back from what
  its objective reads (Hint: none; FuLA: from its last weighted point), and the stitch
  layer's forward and weight gradient (its input, the frozen front's, needs none);
- the end model's reference pass runs only as far as the objectives it feeds read
  (StitchSpec.reference_reach): not at all for TLM, to point j for Hint;
- robust evaluation (AutoAttack "rand" or ART's APGD): APGD-CE on every attacked image,
  APGD-DLR on the share still robust (ROBUST_SHARE where the model or stitch meets
  adversarial training, else none), each `iterations` PGD-like steps: every model and
  stitch here is deterministic in eval mode, so AutoAttack runs one EOT sample
  (stitchkit.measures.robustness.eot_iterations_for; tests/test_adversarial.py);
- evaluation: one forward per test image and split.

BatchNorm, activations and the optimiser are not counted (FlopCounterMode counts matmuls
and convolutions). Stages without model work (prepare, shortcut, figures) cost 0. Each
stage's FLOPs are split by kernel family (FAMILIES), whose throughputs differ:
benchmarks/kernel_rates.py measures each on a machine, and benchmarks/suite_cost.py
projects a suite's hours from them. `stitchkit repro` ranks stages by the total.
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from types import SimpleNamespace

import torch
from torch.utils.flop_counter import FlopCounterMode

from stitchkit.common.errors import UserError
from stitchkit.compare.params import comparison_job
from stitchkit.compare.recipes import RECIPES
from stitchkit.compare.sides import evenly_spaced
from stitchkit.data.params import clean_source
from stitchkit.measures.params import robust_evaluation, stitch_robust_evaluation
from stitchkit.measures.robustness import RobustEvaluation
from stitchkit.models.architectures import RESNETS, ModelSpec, build_model
from stitchkit.models.attacks import AdversarialTraining
from stitchkit.models.params import training_job
from stitchkit.stitching.layers import stitch_layer
from stitchkit.stitching.objectives import fula_weights
from stitchkit.stitching.params import PanelJob, panel_job
from stitchkit.stitching.recipe import StitchSpec, covering_reach
from stitchkit.testbeds.iris import iri_set_job
from stitchkit.testbeds.params import SubsetJob, similarity_job, subset_job

# (training images, test images, channels, classes) of each dataset as prepared
DATASET_SIZES = {
    "cifar10": (50_000, 10_000, 3, 10),
    "ls-imagenet-10": (13_000, 500, 3, 10),  # 1,300 training and 50 validation images a class
    "fashion-mnist": (60_000, 10_000, 1, 10),
    "digits": (1_347, 450, 1, 10),  # scikit-learn's 1,797 digits, a quarter held out
}
ROBUST_SHARE = 0.5  # assumed share of test images that survive APGD-CE on robust models
TRAIN_PASSES, GRAD_PASSES = 3, 2  # forward-pass equivalents of a weight step / input step
# kernel families: weight steps of base models; stitch training (each stitch's layer and
# end pass, forward and backward, and the front and reference passes its panel shares);
# input-gradient steps (PGD, IRIs); robust evaluation; forward passes that score images
FAMILIES = ("training", "stitch", "pgd", "attack", "evaluation")
TESTBEDS = (
    "Base models (Table 1)",
    "Same-point panels (Fig. 3; v2 on natural images)",
    "Adversarial training (Sec. 3.1)",
    "Shortcuts (Sec. 3.2)",
    "Class subsets (Sec. 3.2)",
    "Cross-layer (Sec. 3.3)",
    "VGG16-BN and ViT-Tiny (v2)",
    "IRIs (v2)",
    "Data and figures (CPU)",
    "Comparisons (stitchkit compare)",
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
    """A stage's testbed, FLOPs per kernel family (``families``, keys of FAMILIES), and
    the stitches and base models it trains."""

    testbed: str
    families: dict[str, float] = field(default_factory=dict)
    stitches: int = 0
    trainings: int = 0

    @property
    def flops(self) -> float:
        return sum(self.families.values())

    @property
    def attack_flops(self) -> float:
        return self.families.get("attack", 0.0)

    def add(self, family: str, flops: float) -> None:
        self.families[family] = self.families.get(family, 0.0) + flops


def _flops(fn, *args) -> float:
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return float(counter.get_total_flops())


@cache
def model_flops(
    arch: str, width: int, depth: int | None, channels: int, classes: int, patch: int | None = None
) -> ModelFlops:
    """The FLOPs of a model of ``arch`` (a ModelFlops)."""
    zeros, ones = (0.0,) * channels, (1.0,) * channels
    spec = ModelSpec(arch, classes, channels, width, zeros, ones, depth=depth, patch=patch)
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
    """(training images, test images, channels, classes) of ``dataset`` as prepared."""
    name = clean_source(params, dataset)
    if name not in DATASET_SIZES:
        raise UserError(f"no size for dataset {name!r}; add it to stage_cost.DATASET_SIZES")
    return DATASET_SIZES[name]


def flops_of(params: dict, model_id: str) -> ModelFlops:
    job = training_job(params, model_id)
    _, _, channels, classes = dataset_sizes(params, job.dataset)
    return model_flops(job.arch, job.width, job.depth, channels, classes, job.patch)


def _is_robust(params: dict, model_id: str) -> bool:
    return training_job(params, model_id).recipe.adversarial is not None


def robust_eval_flops(
    s: RobustEvaluation, forward: float, test_images: int, robust: bool, eot_samples: int = 1
) -> float:
    """FLOPs of a robust evaluation under settings ``s`` of one model of ``forward``
    FLOPs per image (clean and attacked predictions, then the attacks); AutoAttack takes
    ``eot_samples`` gradients a step (1: a deterministic model, as every one here)."""
    n = min(s.samples or test_images, test_images)
    attacked = 1 + (ROBUST_SHARE if robust else 0.0)
    steps = s.iterations * (eot_samples if s.backend == "autoattack" else 1)
    return n * forward * (2 + attacked * steps * GRAD_PASSES)


@cache
def layer_flops(front_shape: tuple, end_shape: tuple) -> float:
    with torch.no_grad():
        return _flops(stitch_layer(front_shape, end_shape), torch.zeros(1, *front_shape))


def panel_flops(
    params: dict,
    job: PanelJob | SubsetJob,
    train_images: int,
    test_images: int,
    splits: int,
    cost: StageCost,
    eot_samples: int = 1,
) -> None:
    """Adds to ``cost`` the FLOPs (by family) and the trained stitches of fitting and
    scoring every stitch of a panel: the passes its stitches share, then each stitch's."""
    cost.add("stitch", shared_flops(params, job, train_images))
    for pair in job.pairs:
        for mode in job.modes.values():
            flops = stitch_flops(
                params, job, pair, mode, train_images, test_images, splits, eot_samples
            )
            for family, value in flops.items():
                cost.add(family, value)
    cost.stitches += len([m for m in job.modes.values() if _trained(m)]) * len(job.pairs)


def _trained(mode: dict) -> bool:
    """A mode fitted by gradient steps: all but DM without recalibration."""
    return mode["objective"] != "dm" or mode["recalibrate"]


def _mixed_batches(adversarial: AdversarialTraining | None) -> bool:
    """Each stitch trains on its own batch with a share alpha of PGD examples (the
    ``batch`` mix): no pass is shared."""
    return bool(adversarial) and adversarial.alpha > 0 and adversarial.mix == "batch"


def _spec(mode: dict, end_point: int, end: ModelFlops) -> StitchSpec:
    """The StitchSpec of ``mode`` at ``end_point`` of an end model ``end``."""
    weights = None
    if mode["objective"] == "fula":
        terms = len(end.end) - end_point + 1
        weights = tuple(fula_weights(mode.get("weights") or "uniform", terms))
    return StitchSpec(
        "", mode["objective"], 0, end_point, weights, bool(mode.get("soft")), mode["recalibrate"]
    )


def reference_flops(end: ModelFlops, reach: tuple[int, bool]) -> float:
    """Forward FLOPs per image of a reference pass of ``end`` that runs as far as
    ``reach`` (StitchSpec.reference_reach): to the logits, to a point, or not at all."""
    depth, logits = reach
    return end.total if logits else end.front[depth] if depth else 0.0


def shared_flops(params: dict, job: PanelJob | SubsetJob, train_images: int) -> float:
    """FLOPs of the passes a panel's stitches share (shared_flops_per_image), over its
    training image-steps."""
    front, end = flops_of(params, job.front), flops_of(params, job.end)
    steps = job.recipe.epochs * min(job.recipe.train_samples or train_images, train_images)
    iris = getattr(job, "iris", None) is not None
    adversarial = getattr(job, "adversarial", None)  # class subsets have none
    return steps * shared_flops_per_image(front, end, job.pairs, job.modes, iris, adversarial)


def shared_flops_per_image(
    front: ModelFlops,
    end: ModelFlops,
    pairs,
    modes: dict,
    iris: bool,
    adversarial: AdversarialTraining | None,
) -> float:
    """Forward FLOPs per training image of the passes shared by a panel's stitches (at
    ``pairs``, in ``modes``): the reference pass, as far as any trained stitch reads
    it, and the front's pass to its deepest point; on ``iris`` both run per front
    point, on that point's IRIs. None under the ``batch`` mix or without a trained
    stitch."""
    trained = [(j, m) for _, j in pairs for m in modes.values() if _trained(m)]
    if _mixed_batches(adversarial) or not trained:
        return 0.0
    reach = covering_reach([_spec(mode, j, end).reference_reach for j, mode in trained])
    front_points = sorted({i for i, _ in pairs})
    batches = front_points if iris else front_points[-1:]
    return sum(reference_flops(end, reach) + front.front[k] for k in batches)


def stitch_flops(
    params: dict,
    job: PanelJob | SubsetJob,
    pair: tuple[int, int],
    mode: dict,
    train_images: int,
    test_images: int,
    splits: int,
    eot_samples: int = 1,
) -> dict[str, float]:
    """FLOPs by family of one stitch of a panel (front point, end point ``pair``; ``mode``
    as panel_job validates it): its training steps and PGD examples
    (stitch_training_flops_per_image), its scoring and robust evaluation. The passes a
    panel's stitches share (shared_flops) are not in it."""
    (i, j), r = pair, job.recipe
    front, end = flops_of(params, job.front), flops_of(params, job.end)
    steps = r.epochs * min(r.train_samples or train_images, train_images)  # image-steps
    n_test = min(r.eval_samples or test_images, test_images)
    adversarial = getattr(job, "adversarial", None)  # class subsets have none
    stack = stack_of(mode, job.modes, r.batching, adversarial)
    per_image = stitch_training_flops_per_image(front, end, pair, mode, adversarial, stack)
    flops = {family: steps * value for family, value in per_image.items()}
    layer = layer_flops(front.shape[i], end.shape[j])
    flops["evaluation"] = n_test * splits * (end.end[j] + layer)
    if adversarial:
        robust = adversarial.alpha > 0 or _is_robust(params, job.end)
        settings = stitch_robust_evaluation(params)
        stitched = front.front[i] + layer + end.end[j]
        flops["attack"] = robust_eval_flops(settings, stitched, test_images, robust, eot_samples)
    return flops


def stitch_training_flops_per_image(
    front: ModelFlops,
    end: ModelFlops,
    pair: tuple[int, int],
    mode: dict,
    adversarial: AdversarialTraining | None,
    stack: Sequence[dict] = (),
) -> dict[str, float]:
    """FLOPs by family (``stitch``, ``pgd``) per training image of one stitch at
    ``pair`` in ``mode``, beyond the passes its panel shares; none for an untrained DM.
    ``stack``: the modes of the stitches it trains stacked with (stack_of), whose
    gradients run as one computation, as far back as the deepest that any reads.

    Under adversarial training, PGD runs on the stitched model: with the ``batch`` mix
    on a share alpha of each batch, and the stitch's own reference and front passes on
    its whole mixed batch; with the ``loss`` mix on the whole batch, its reference and
    front passes on the PGD examples, and the stitch's step has a clean and an
    adversarial term (one at alpha 1)."""
    if not _trained(mode):
        return {}
    i, j = pair
    alpha = adversarial.alpha if adversarial else 0.0
    spec, layer = _spec(mode, j, end), layer_flops(front.shape[i], end.shape[j])
    if spec.recalibrate:  # the stitched pass alone, without gradients
        step = end.end[j] + layer
    else:  # the end's gradient back from what the losses read; T's weight gradient
        reach = covering_reach([_spec(m, j, end).reach for m in stack] or [spec.reach])
        step = end.end[j] + _gradient_flops(end, j, reach) + 2 * layer
    terms = 2 if 0 < alpha < 1 and not _mixed_batches(adversarial) else 1
    flops = {"stitch": terms * step}
    if alpha > 0:  # PGD on the stitched model, then its own reference and front passes
        attacked = alpha if _mixed_batches(adversarial) else 1.0
        stitched = front.front[i] + layer + end.end[j]
        flops["pgd"] = attacked * adversarial.steps * GRAD_PASSES * stitched
        flops["stitch"] += reference_flops(end, spec.reference_reach) + front.front[i]
    return flops


def stack_of(
    mode: dict, modes: dict, batching: str, adversarial: AdversarialTraining | None
) -> tuple[dict, ...]:
    """The modes of a panel (``modes``) that a stitch in ``mode`` trains stacked with at
    its point pair on a GPU (PanelTrainer._stacks: ``auto`` batching stacks there),
    itself included; () when it trains alone."""
    clean = not adversarial or adversarial.alpha == 0
    stackable_training = clean or (_mixed_batches(adversarial) and not adversarial.random_start)
    stacked = [m for m in modes.values() if _trained(m) and not m["recalibrate"]]
    if batching == "per-stitch" or not stackable_training or mode not in stacked:
        return ()
    return tuple(stacked) if len(stacked) > 1 else ()


def _gradient_flops(end: ModelFlops, end_point: int, reach: tuple[int, bool]) -> float:
    """FLOPs of the activation gradient through ``end`` from what a loss reads (reach:
    StitchSpec.reach) back to the stitch at ``end_point``: one pass over that span."""
    depth, logits = reach
    return end.end[end_point] if logits else end.front[depth] - end.front[end_point]


def _base_testbed(arch: str) -> str:
    """Table 1's ResNets, or v2's other architectures."""
    return TESTBEDS[0] if arch in RESNETS else TESTBEDS[6]


def _panel_testbed(params: dict, job: PanelJob, shortcut: bool) -> str:
    archs = {training_job(params, m).arch for m in (job.front, job.end)}
    if not archs <= set(RESNETS):
        return TESTBEDS[6]
    if job.iris:
        return TESTBEDS[7]
    if job.adversarial:
        return TESTBEDS[2]
    if shortcut:
        return TESTBEDS[3]
    if any(i != j for i, j in job.pairs):
        return TESTBEDS[5]
    return TESTBEDS[1]


def _panel_sizes(params: dict, job: PanelJob) -> tuple[int, int, int]:
    """(training images, test images, scored splits) of a panel's stitches."""
    n_train, n_test, _, _ = dataset_sizes(params, job.data)
    if job.iris:  # trained on the IRIs of each front point, as many as were made
        n_train = min(iri_set_job(params, s).settings.samples or n_train for s in job.iris.values())
    return n_train, n_test, 3 if job.data in (params.get("shortcuts") or {}) else 1


def panel_stitch_flops(params: dict, name: str, pair: tuple[int, int], mode: str) -> float:
    """The FLOPs of the stitch ``mode`` at ``pair`` of panel (or IRI panel) ``name``."""
    job = panel_job(params, name)
    return sum(
        stitch_flops(params, job, pair, job.modes[mode], *_panel_sizes(params, job)).values()
    )


def _panel_cost(params: dict, name: str, eot_samples: int) -> StageCost:
    job = panel_job(params, name)
    n_train, n_test, splits = _panel_sizes(params, job)
    cost = StageCost(_panel_testbed(params, job, splits > 1))
    panel_flops(params, job, n_train, n_test, splits, cost, eot_samples)
    return cost


def stage_cost(params: dict, stage: str, eot_samples: int = 1) -> StageCost:
    """The cost of the stage addressed ``stage`` (e.g. ``stitch@<panel>``) under
    ``params``, with AutoAttack taking ``eot_samples`` gradients a step."""
    kind, _, key = stage.partition("@")
    if kind == "train":
        job = training_job(params, key)
        n_train, n_test, _, _ = dataset_sizes(params, job.dataset)
        r, f = job.recipe, flops_of(params, key).total
        n_train = min(r.train_samples or n_train, n_train)
        adv = r.adversarial
        cost = StageCost(_base_testbed(job.arch), trainings=1)
        cost.add("training", r.epochs * n_train * f * TRAIN_PASSES)
        if adv:
            cost.add("pgd", r.epochs * n_train * f * adv.alpha * adv.steps * GRAD_PASSES)
        cost.add("evaluation", -(-r.epochs // r.eval_every) * n_test * f)
        return cost
    if kind == "robustness":
        job = training_job(params, key)
        _, n_test, _, _ = dataset_sizes(params, job.dataset)
        settings, forward = robust_evaluation(params, key), flops_of(params, key).total
        flops = robust_eval_flops(settings, forward, n_test, _is_robust(params, key), eot_samples)
        return StageCost(_base_testbed(job.arch), {"attack": flops})
    if kind == "iris":  # a target pass, then `steps` input-gradient steps of the front
        job = iri_set_job(params, key)
        n_train, _, _, _ = dataset_sizes(params, job.data)
        n = min(job.settings.samples or n_train, n_train)
        front = flops_of(params, job.front).front[job.point]
        cost = StageCost(TESTBEDS[7], {"evaluation": n * front})
        cost.add("pgd", n * front * job.settings.steps * GRAD_PASSES)
        return cost
    if kind in ("stitch", "iri-stitch"):
        return _panel_cost(params, key, eot_samples)
    if kind == "subset":
        job = subset_job(params, key)
        n_train, n_test, _, classes = dataset_sizes(params, job.data)
        cost = StageCost(TESTBEDS[4])
        for k in job.classes:
            panel_flops(params, job, n_train * k // classes, n_test, 1, cost)
        return cost
    if kind == "similarity":
        similarity = similarity_job(params, key)
        cost = StageCost(TESTBEDS[2])
        for job in similarity.panels.values():
            front, end = flops_of(params, job.front), flops_of(params, job.end)
            for i, j in job.pairs:
                stitched = front.front[i] + end.end[j]
                n = similarity.samples * stitched
                cost.add("pgd", n * job.adversarial.steps * GRAD_PASSES)  # PGD, then features
                cost.add("evaluation", n * 3)
        return cost
    if kind == "comparison":
        return _comparison_cost(params, key)
    return StageCost(TESTBEDS[8])


def _compared_points(points, count: int) -> list[int]:
    """A stitchkit model's compared point numbers (compare.sides: auto, auto:N, names)."""
    if not isinstance(points, str):
        return [int(p) for p in points]
    every = list(range(1, count + 1))
    return evenly_spaced(every, int(points.partition(":")[2] or count))


def _comparison_cost(params: dict, key: str) -> StageCost:
    """A comparison's stitches, as a panel of every front x end point pair; its measures
    read one forward pass of each model. Zero where a side is a SPEC (torchvision:..., not
    a model of `models:`): its FLOPs are not counted."""
    job, cost = comparison_job(params, key), StageCost(TESTBEDS[9])
    if len(job.models()) < 2:
        return cost
    front, end = flops_of(params, job.front), flops_of(params, job.end)
    fronts = _compared_points(job.points, len(front.front))
    ends = _compared_points(job.points if job.end_points is None else job.end_points, len(end.end))
    n_train, n_test, _, _ = dataset_sizes(params, job.data)
    panel = SimpleNamespace(
        recipe=dataclasses.replace(RECIPES[job.recipe], **job.stitch),
        front=job.front,
        end=job.end,
        modes={m: {"objective": m, "recalibrate": False} for m in job.modes},
        pairs=[(i, j) for i in fronts for j in ends],
    )
    if job.modes:
        panel_flops(params, panel, n_train, n_test, 1, cost)
    if job.measures:
        cost.add("evaluation", min(job.samples or n_test, n_test) * (front.total + end.total))
    return cost
