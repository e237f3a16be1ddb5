"""Stacked stitches (one vmapped computation per point pair) against the per-stitch path."""

import copy
from dataclasses import replace

import pytest
import torch

from stitchkit.data.datasets import prepare_digits
from stitchkit.models.architectures import ModelSpec
from stitchkit.models.attacks import AdversarialTraining
from stitchkit.models.training import Recipe, train_model
from stitchkit.stitching.recipe import StitchRecipe, make_spec
from stitchkit.stitching.trainer import PanelTrainer

RECIPE = StitchRecipe(
    epochs=2, batch_size=64, train_samples=256, crop_padding=2, hflip=True, eval_batch_size=500,
    lr_drops=(1.5,), lr=0.01,
)  # fmt: skip


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    """(front, end, data, specs): two digits ResNet18s and every kind of stitch at two
    pairs, including an untouched and a recalibrated DM (which never stack)."""
    data = prepare_digits(0.25, 0)
    mean, std = data.channel_stats()
    recipe = Recipe(epochs=2, batch_size=64, lr=0.03, lr_drops=(), crop_padding=0, hflip=False)
    models = [
        train_model(
            ModelSpec("resnet18", 10, 1, 8, mean, std),
            recipe,
            seed,
            data,
            torch.device("cpu"),
            tmp_path_factory.mktemp("ckpt") / "unused.pt",
        ).model
        for seed in (0, 1)
    ]
    modes = ("dm", "hint", "slm", "tlm", "fula")
    specs = [make_spec(m, k, k, models[1]) for m in modes for k in (3, 7)]
    specs += [make_spec("fula-last", 7, 7, models[1], objective="fula", weights="last")]
    specs += [make_spec("dm-rs", 3, 3, models[1], objective="dm", recalibrate=True)]
    return models[0], models[1], data, specs


ADVERSARIAL = AdversarialTraining(alpha=0.5, epsilon=16 / 255, step_size=8 / 255, steps=2)


def fit(panel, batching: str, checkpoint=None, adversarial=None):
    front, end, data, specs = panel
    recipe = replace(RECIPE, batching=batching)
    models = copy.deepcopy(front), copy.deepcopy(end)
    trainer = PanelTrainer(*models, data, specs, recipe, "cpu", adversarial)
    return trainer, trainer.fit(checkpoint, progress=False)


@pytest.mark.parametrize("adversarial", [None, ADVERSARIAL], ids=["clean", "adversarial"])
def test_stacked_stitches_match_the_per_stitch_path(panel, adversarial):
    trainer, stacked = fit(panel, "stacked", adversarial=adversarial)
    assert sum(len(s.stitches) for s in trainer._stacks(_records(trainer))) == 9
    _, alone = fit(panel, "per-stitch", adversarial=adversarial)
    # The first losses agree to float precision. Adam then turns float noise in
    # near-zero gradient entries into steps of up to lr, and PGD's sign() turns it into
    # whole attack steps on a few pixels: clean, every weight agrees within lr / 10;
    # adversarial, a few weights drift further (on one CPU 2% of them by up to 0.024, a
    # relative difference of 2.2% over the layer; a wrong stack differs by order 1), so the
    # layers agree as a whole (relative norm of the difference below 5%), and so do the
    # epoch losses (one thread on one CPU: 1.2% apart in the second epoch).
    rel = 1e-3 if adversarial is None else 5e-2
    for a, b in zip(stacked, alone, strict=True):
        assert a.spec == b.spec
        for name, tensor in a.layer.state_dict().items():
            expected = b.layer.state_dict()[name]
            if adversarial is None:
                torch.testing.assert_close(tensor, expected, rtol=1e-3, atol=RECIPE.lr / 10)
            else:
                drift = (tensor - expected).norm() / expected.norm().clamp_min(1e-12)
                assert drift < 0.05, (a.spec.key, name, float(drift))
        if b.epoch_losses:
            # adversarial: the first PGD examples already differ on a few pixels
            first = 1e-6 if adversarial is None else 1e-3
            assert a.initial_loss == pytest.approx(b.initial_loss, rel=first)
            assert a.epoch_losses == pytest.approx(b.epoch_losses, rel=rel)
        assert abs(a.test_accuracy - b.test_accuracy) <= 0.01, a.spec.key


@pytest.mark.parametrize("adversarial", [None, ADVERSARIAL], ids=["clean", "adversarial"])
def test_stacked_training_resumes_bitwise_and_across_paths(panel, tmp_path, adversarial):
    checkpoint = tmp_path / "panel.pt"
    _, whole = fit(panel, "stacked", checkpoint, adversarial)  # leaves epoch 1's checkpoint
    assert checkpoint.exists()
    _, resumed = fit(panel, "stacked", checkpoint, adversarial)
    _, crossed = fit(panel, "per-stitch", checkpoint, adversarial)
    atol = RECIPE.lr / 10 if adversarial is None else RECIPE.lr
    for a, b, c in zip(whole, resumed, crossed, strict=True):
        assert torch.equal(a.layer.conv.weight, b.layer.conv.weight), a.spec.key
        assert a.epoch_losses == b.epoch_losses and a.test_accuracy == b.test_accuracy
        expected = a.layer.conv.weight
        torch.testing.assert_close(c.layer.conv.weight, expected, rtol=1e-3, atol=atol)


def _records(trainer):
    """Fresh per-stitch training records of the trainer's trained stitches."""
    inits = trainer.layers.initial(trainer.specs)
    return [trainer._new_stitch(inits, spec) for spec in trainer.trained]
