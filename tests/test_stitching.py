"""Stitching engine on small real computations: self-stitching, a permuted ground truth,
hand-computed losses, the shared batch stream, and bad input."""

import copy
from dataclasses import replace

import pytest
import torch

from stitchkit.common.errors import UserError
from stitchkit.models.architectures import RESNETS, ModelSpec, build_model
from stitchkit.models.attacks import AdversarialTraining
from stitchkit.models.evaluation import accuracy
from stitchkit.models.schedule import step_lr
from stitchkit.stitching.evaluation import check_compatible
from stitchkit.stitching.layers import fit_direct_matching, stitch_layer
from stitchkit.stitching.objectives import (
    OBJECTIVES,
    LossOptions,
    ReferencePass,
    StitchedPass,
    fula_loss,
    fula_weights,
    hint_loss,
    normalized_hint,
    slm_loss,
    soft_label_divergence,
    tlm_loss,
)
from stitchkit.stitching.recipe import StitchRecipe, make_spec
from stitchkit.stitching.trainer import PanelTrainer, stitch

FAST = StitchRecipe(
    epochs=1, batch_size=64, train_samples=256, crop_padding=0, hflip=False, eval_batch_size=500,
    lr_drops=(),
)  # fmt: skip
ALL_POINTS = range(1, 10)


def own_accuracy(model, data) -> float:
    return accuracy(model.eval(), data.test_images, data.test_labels)


# -- ground truth: a copy with permuted channels is functionally identical ---------------


def _permute_bn(bn, p):
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(bn, name).data = getattr(bn, name).data[p]


def permuted_copy(model, seed=0):
    """The same function with the channels of every layer permuted; returns the copy and
    the permutation of the activation at each stitching point (a' = a[:, perm])."""
    g = torch.Generator().manual_seed(seed)
    m = copy.deepcopy(model)
    network = m.model
    conv, bn = network.segments[0][0], network.segments[0][1]
    current = torch.randperm(conv.out_channels, generator=g)
    conv.weight.data = conv.weight.data[current]
    _permute_bn(bn, current)
    perms = {1: current}
    for k, segment in enumerate(network.segments[1:], start=2):
        for block in segment:
            q = torch.randperm(block.conv1.out_channels, generator=g)
            identity_shortcut = block.residual and len(block.shortcut) == 0
            out = current if identity_shortcut else torch.randperm(len(q), generator=g)
            block.conv1.weight.data = block.conv1.weight.data[q][:, current]
            _permute_bn(block.bn1, q)
            block.conv2.weight.data = block.conv2.weight.data[out][:, q]
            _permute_bn(block.bn2, out)
            if len(block.shortcut):
                block.shortcut[0].weight.data = block.shortcut[0].weight.data[out][:, current]
                _permute_bn(block.shortcut[1], out)
            current = out
        perms[k] = current
    network.fc.weight.data = network.fc.weight.data[:, current]
    return m, perms


@pytest.mark.parametrize("bn", ["train", "frozen"])
@pytest.mark.parametrize("arch", sorted(RESNETS))
def test_permuted_copy_is_recovered_by_dm_and_fully_similar_under_every_mode(
    arch, bn, trained_resnets, digits
):
    model = trained_resnets[arch]
    twin, perms = permuted_copy(model)
    x = torch.rand(4, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(twin.eval()(x), model.eval()(x), atol=1e-5)
    base = own_accuracy(model, digits)
    specs = [
        make_spec(m, k, k, twin) for m in ("dm", "hint", "slm", "tlm", "fula") for k in ALL_POINTS
    ]
    recipe = replace(FAST, bn=bn)
    results = PanelTrainer(copy.deepcopy(model), twin, digits, specs, recipe, "cpu").fit(
        progress=False
    )
    for r in results:
        if r.spec.objective == "dm":
            expected = torch.eye(len(perms[r.spec.front_point]))[perms[r.spec.front_point]]
            weight = r.layer.conv.weight[:, :, 0, 0]
            assert torch.allclose(weight, expected, atol=1e-4), r.spec.key
            assert r.dm_residual < 1e-6
            # the twin is the same function: the stitch agrees with its end fully (v2)
            assert r.agreement["clean"]["agreement_ratio"] == 1.0, r.spec.key
            assert r.agreement["clean"]["agreement_prob"] > 0.9999, r.spec.key
            assert r.agreement["clean"]["hard_kappa"] == pytest.approx(1.0), r.spec.key
        # DM is exact (above); trained modes stay within 2 points (9 of 450 images):
        # Adam's first steps move every weight of T by about lr even at the optimum
        # (TLM's train loss can rise over these 4 steps), flipping a few borderline images
        assert r.test_accuracy >= base - 0.02, (r.spec.key, r.test_accuracy, base)
        assert r.agreement["clean"]["agreement_prob"] >= 0.95, r.spec.key


@pytest.mark.parametrize("arch", sorted(RESNETS))
def test_self_stitch_with_dm_reproduces_the_models_accuracy_at_every_point(
    arch, trained_resnets, digits
):
    model = trained_resnets[arch]
    base = own_accuracy(model, digits)
    specs = [make_spec("dm", k, k, model) for k in ALL_POINTS]
    trainer = PanelTrainer(copy.deepcopy(model), copy.deepcopy(model), digits, specs, FAST, "cpu")
    for r in trainer.fit(progress=False):
        assert abs(r.test_accuracy - base) <= 0.005, r.spec.key


def test_hint_and_fula_start_at_a_loss_near_zero_when_self_stitching(trained_resnets, digits):
    model = trained_resnets["resnet18"]
    specs = [make_spec(m, k, k, model) for m in ("hint", "fula") for k in (1, 5, 9)]
    trainer = PanelTrainer(copy.deepcopy(model), copy.deepcopy(model), digits, specs, FAST, "cpu")
    for r in trainer.fit(progress=False):
        assert r.initial_loss < 1e-5, (r.spec.key, r.initial_loss)


@pytest.mark.parametrize("hint_norm", ["batch", "sample"])
def test_fula_at_the_last_point_is_exactly_hint(trained_resnets, digits, hint_norm):
    front, end = trained_resnets["resnet18"], trained_resnets["plain18"]
    specs = [make_spec(m, 9, 9, end) for m in ("hint", "fula")]
    assert specs[1].weights == (1.0,)  # one term: the hint at point 9
    recipe = replace(FAST, epochs=2, hint_norm=hint_norm)
    hint, fula = PanelTrainer(front, end, digits, specs, recipe, "cpu").fit(progress=False)
    assert torch.equal(hint.layer.conv.weight, fula.layer.conv.weight)
    assert hint.epoch_losses == fula.epoch_losses and hint.test_accuracy == fula.test_accuracy


def test_recalibrated_dm_keeps_its_layer_and_moves_only_batchnorm_statistics(
    trained_resnets, digits
):
    front, end = trained_resnets["resnet18"], trained_resnets["plain18"]
    specs = [make_spec("dm", 5, 5, end), make_spec("dm-rs", 5, 5, end, "dm", recalibrate=True)]
    trainer = PanelTrainer(copy.deepcopy(front), copy.deepcopy(end), digits, specs, FAST, "cpu")
    dm, recalibrated = trainer.fit(progress=False)
    assert torch.equal(dm.layer.conv.weight, recalibrated.layer.conv.weight)
    assert recalibrated.test_accuracy != dm.test_accuracy  # the statistics moved
    assert len(recalibrated.epoch_losses) == FAST.epochs and dm.epoch_losses == []
    with pytest.raises(UserError, match="recalibrate applies to dm only"):
        make_spec("hint-rs", 5, 5, end, "hint", recalibrate=True)
    with pytest.raises(UserError, match="needs stitch.bn: train"):
        PanelTrainer(front, end, digits, specs, replace(FAST, bn="frozen"), "cpu")


def test_stitch_learning_rate_drops_tenfold_at_the_given_epochs():
    # the authors' schedule: 30 epochs, x0.1 at epochs 10 and 20, applied per step
    lrs = [step_lr(1e-3, (10, 20), step, 100) for step in (0, 999, 1000, 1999, 2000, 2999)]
    assert lrs == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5])
    assert StitchRecipe().lr_drops == (10, 20) and StitchRecipe().epochs == 30


@pytest.mark.parametrize(
    "adversarial",
    [None, AdversarialTraining(alpha=1.0, epsilon=8 / 255, step_size=3 / 255, steps=3)],
    ids=["clean", "adversarial"],
)
def test_shared_stream_gives_each_stitch_what_it_gets_alone(trained_resnets, digits, adversarial):
    """A stitch does not depend on which others share its panel (adversarial: its PGD
    examples are crafted on its own stitched model), so a suite may drop modes that no
    claim reads without moving the others."""
    front, end = trained_resnets["resnet18"], trained_resnets["plain18"]
    specs = [make_spec("tlm", 3, 3, end), make_spec("fula", 5, 5, end)]
    if adversarial:
        specs.insert(0, make_spec("slm", 5, 5, end))

    def panel(chosen):
        models = copy.deepcopy(front), copy.deepcopy(end)
        return PanelTrainer(*models, digits, chosen, FAST, "cpu", adversarial).fit(progress=False)

    joint = panel(specs)
    for spec, result in zip(specs, joint, strict=True):
        single = panel([spec])[0]
        assert torch.equal(single.layer.conv.weight, result.layer.conv.weight), spec.key
        assert single.test_accuracy == result.test_accuracy


def test_library_entry_point_leaves_the_models_untouched(trained_resnets, digits):
    front, end = trained_resnets["resnet18"], trained_resnets["resnet34"]
    before = {k: v.clone() for k, v in front.state_dict().items()}
    result = stitch(front, end, 4, 4, "hint", digits, FAST, progress=False)
    assert 0.1 < result.test_accuracy <= 1 and result.final_loss is not None
    assert all(torch.equal(before[k], v) for k, v in front.state_dict().items())


# -- the layer and its DM initialisation --------------------------------------------------


def test_dm_recovers_a_known_affine_map_and_reports_zero_residual():
    g = torch.Generator().manual_seed(0)
    front = torch.randn(20, 3, 4, 4, generator=g)
    weight, bias = torch.randn(5, 3, generator=g), torch.randn(5, generator=g)
    end = torch.einsum("dc,nchw->ndhw", weight, front) + bias.view(1, 5, 1, 1)
    layer = stitch_layer((3, 4, 4), (5, 4, 4))
    residual = fit_direct_matching(layer, front, end)
    assert residual < 1e-6
    assert torch.allclose(layer.conv.weight[:, :, 0, 0], weight, atol=1e-5)
    assert torch.allclose(layer.conv.bias, bias, atol=1e-5)


# -- losses against values computed by hand ------------------------------------------------


def test_normalized_hint_by_hand():
    pred = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    target = torch.tensor([[1.0, 0.0], [3.0, 4.0]])
    # per sample: |(0, 2)| / |(1, 0)| = 2 and |(-3, -4)| / |(3, 4)| = 1; mean 1.5
    assert normalized_hint(pred, target, "sample").item() == pytest.approx(1.5)
    # whole batch (the authors'): |(0, 2, -3, -4)| / |(1, 0, 3, 4)| = sqrt(29) / sqrt(26)
    assert normalized_hint(pred, target, "batch").item() == pytest.approx((29 / 26) ** 0.5)
    assert normalized_hint(pred, target).item() == normalized_hint(pred, target, "batch").item()


def _passes(terms, logits, ref_terms, ref_logits):
    return StitchedPass(iter([*terms, logits]), len(terms)), ReferencePass(ref_terms, ref_logits)


def test_task_and_soft_label_losses_by_hand():
    log3 = torch.log(torch.tensor(3.0))
    logits = torch.tensor([[0.0, log3]])  # softmax: (1/4, 3/4)
    end_logits = torch.tensor([[0.0, 0.0]])  # softmax: (1/2, 1/2)
    stitched, ref = _passes([torch.zeros(1, 2)], logits, [torch.ones(1, 2)], end_logits)
    # CE with label 1 is log(4/3)
    assert tlm_loss(stitched, ref, torch.tensor([1]), LossOptions()).item() == pytest.approx(
        0.2876821, abs=1e-6
    )
    # SLM, the cross-entropy of eq. 1: -(1/2 log 1/4 + 1/2 log 3/4) = 0.8369882
    assert slm_loss(stitched, ref, None, LossOptions()).item() == pytest.approx(0.8369882, abs=1e-6)
    # KL(end || stitched) = CE - H(end) = 0.8369882 - log 2 = 0.1438410
    assert soft_label_divergence(logits, end_logits).item() == pytest.approx(0.1438410, abs=1e-6)
    assert soft_label_divergence(logits, logits).item() == pytest.approx(0.0, abs=1e-7)


def test_hint_and_fula_losses_by_hand():
    terms = [torch.tensor([[1.0, 2.0]]), torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 0.0]])]
    refs = [torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 5.0]])]
    # per-term normalised hints: 2, 1, 1
    logits = torch.zeros(1, 2)

    def loss(fn, weights=None, soft=False, end_logits=logits):
        stitched, ref = _passes(terms, logits, refs, end_logits)
        return fn(stitched, ref, None, LossOptions("batch", weights, soft)).item()

    assert loss(hint_loss) == pytest.approx(2.0)
    assert loss(fula_loss, (0.5, 0.25, 0.25)) == pytest.approx(1.5)
    assert loss(fula_loss, (0.0, 0.0, 1.0)) == pytest.approx(1.0)
    assert loss(fula_loss, (1.0, 0.0, 0.0)) == loss(hint_loss)
    # the soft term joins the average of the weighted terms: (2 + 1 + 1 + KL) / 4
    log3 = torch.log(torch.tensor(3.0))
    end_logits = torch.tensor([[log3, 0.0]])  # softmax (3/4, 1/4) against (1/2, 1/2)
    kl = 0.75 * torch.log(torch.tensor(1.5)) + 0.25 * torch.log(torch.tensor(0.5))
    expected = (2 + 1 + 1 + kl.item()) / 4
    assert loss(fula_loss, (1 / 3,) * 3, True, end_logits) == pytest.approx(expected)


def test_fula_stops_the_end_pass_after_the_last_weighted_term():
    consumed = []

    def terms():
        for t in (torch.ones(1, 2), torch.ones(1, 2), torch.ones(1, 2), torch.zeros(1, 2)):
            consumed.append(t)
            yield t

    stitched = StitchedPass(terms(), 3)
    ref = ReferencePass([torch.ones(1, 2)] * 3, None)
    fula_loss(stitched, ref, None, LossOptions(weights=(0.5, 0.5, 0.0)))
    assert len(consumed) == 2


@pytest.mark.parametrize(
    ("mode", "objective", "weights", "soft"),
    [
        ("hint", None, None, False),
        ("slm", None, None, False),
        ("tlm", None, None, False),
        ("fula", None, None, False),
        ("fula-first-2", "fula", "first-2", False),
        ("fula-soft", "fula", None, True),
        ("dm-rs", "dm", None, False),
    ],
)
def test_each_objective_reads_only_what_its_reach_says(
    trained_resnets, mode, objective, weights, soft
):
    """Given only the stitched terms up to StitchSpec.reach and the reference up to
    reference_reach (None beyond: reading it fails), a loss equals the one on full passes:
    so the reference pass and the gradient may stop there."""
    end = trained_resnets["resnet18"]
    spec = make_spec(mode, 5, 5, end, objective, weights, soft, recalibrate=objective == "dm")
    g = torch.Generator().manual_seed(0)
    terms = [torch.randn(4, 3, generator=g) for _ in range(end.num_hint_terms(5) + 1)]
    refs = [torch.randn(4, 3, generator=g) for _ in terms]
    labels, options = torch.tensor([0, 1, 2, 0]), spec.loss_options("batch")
    objective = hint_loss if spec.objective == "dm" else OBJECTIVES[spec.objective]

    def loss(stitched_terms, reference):
        stitched = StitchedPass(iter(stitched_terms), len(terms) - 1)
        return objective(stitched, reference, labels, options)

    full = loss(terms, ReferencePass(refs[:-1], refs[-1]))
    (depth, logits), (ref_depth, ref_logits) = spec.reach, spec.reference_reach
    read = terms if logits else terms[: depth - 4]  # term 0 is at point 5
    reference = ReferencePass(refs[: max(ref_depth - 4, 0)], refs[-1] if ref_logits else None)
    assert torch.equal(loss(read, reference), full)
    assert ref_depth <= depth and (ref_logits <= logits)


def test_fula_terms_are_the_stitching_points_from_j_to_9(trained_resnets):
    end = trained_resnets["resnet18"]
    assert [end.num_hint_terms(j) for j in (1, 5, 9)] == [9, 5, 1]
    assert make_spec("fula", 7, 7, end).weights == pytest.approx((1 / 3,) * 3)
    assert make_spec("fula-last", 7, 7, end, "fula", "last").weights == (0.0, 0.0, 1.0)
    assert make_spec("f2", 7, 7, end, "fula", "first-2").weights == (0.5, 0.5, 0.0)


def test_fula_weight_presets_and_validation():
    assert fula_weights("uniform", 4) == [0.25] * 4
    assert fula_weights("last", 3) == [0.0, 0.0, 1.0]
    assert fula_weights("first-2", 4) == [0.5, 0.5, 0.0, 0.0]
    assert fula_weights("first-9", 2) == [0.5, 0.5]
    assert fula_weights([0.2, 0.8], 2) == [0.2, 0.8]
    with pytest.raises(UserError, match="non-negative and sum to 1"):
        fula_weights([1.5, -0.5], 2)
    with pytest.raises(UserError, match="non-negative and sum to 1"):
        fula_weights([0.5, 0.4], 2)
    with pytest.raises(UserError, match="have 2 entries"):
        fula_weights([0.5, 0.5], 3)


# -- bad input -----------------------------------------------------------------------------


def test_unknown_mode_and_point_out_of_range(trained_resnets):
    end = trained_resnets["resnet18"]
    with pytest.raises(UserError, match="unknown stitching mode 'kd'"):
        make_spec("kd", 1, 1, end)
    with pytest.raises(UserError, match="stitching point 10 is out of range"):
        make_spec("hint", 10, 10, end)
    with pytest.raises(UserError, match="weights and soft apply to fula only"):
        make_spec("hint", 5, 5, end, soft=True)


def test_front_and_end_on_inputs_of_different_shape_are_refused(trained_resnets, digits):
    rgb = build_model(ModelSpec("resnet18", 10, 3, 4, (0.5,) * 3, (0.2,) * 3)).eval()
    with pytest.raises(UserError, match="share one input shape"):
        check_compatible(rgb, trained_resnets["resnet18"], digits)
