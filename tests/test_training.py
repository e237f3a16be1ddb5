"""Base training: schedule, augmentation, determinism, and resume after a kill."""

import json

import pytest
import torch
from pydantic import ValidationError

from conftest import kill_after_checkpoint, run_stage, tiny_params, write_params
from stitchkit.data.augment import crop_and_flip
from stitchkit.models.attacks import AdversarialTraining
from stitchkit.models.checkpoints import load_model
from stitchkit.models.schedule import step_lr
from stitchkit.models.training import Recipe, training_loss


def test_lr_drops_tenfold_at_the_authors_epochs_by_default():
    recipe, steps = Recipe(), 10  # 200 epochs, drops at epochs 66 and 133
    lr = [step_lr(recipe.lr, recipe.lr_drops, s, steps) for s in (0, 659, 660, 1329, 1330, 1999)]
    assert lr == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    # a fractional epoch drops inside that epoch: 2 epochs of 2 steps, drop at 1.5
    assert [step_lr(0.03, (1.5,), s, 2) for s in range(4)] == pytest.approx(
        [0.03, 0.03, 0.03, 0.003]
    )
    assert recipe.nesterov and recipe.momentum == 0.9


@pytest.mark.parametrize(
    "bad",
    [
        {"epochs": 0},
        {"epochs": -3},
        {"batch_size": 0},
        {"lr": 0},
        {"crop_padding": -1},
        {"lr_drops": (66, 250)},
        {"epochs": 2.0},
        {"lr": "0.1"},
        {"momentum": 0, "nesterov": True},
    ],
)
def test_bad_recipe_is_a_validation_error(bad):
    with pytest.raises(ValidationError):
        Recipe(**bad)


def test_batch_mix_replaces_a_share_of_the_batch_in_one_training_pass():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x, y = torch.rand(8, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    adversarial = AdversarialTraining(alpha=0.5, epsilon=0.1, step_size=0.05, steps=2)
    seen = []
    model.register_forward_hook(lambda module, inputs, out: seen.append(inputs[0].clone()))
    logits, loss = training_loss(model, x, y, adversarial, torch.Generator().manual_seed(0))
    trained_on = seen[-1]  # the last pass: the training pass on the mixed batch
    changed = (trained_on != x).flatten(1).any(1)
    assert int(changed.sum()) == 4  # int(0.5 * 8) samples replaced, the others clean
    assert (trained_on - x).abs().max() <= 0.1 + 1e-6
    assert len(seen) == 2 + 1  # 2 PGD steps, then one training pass
    assert torch.equal(logits, model(trained_on)) and loss.requires_grad


def test_crop_is_a_shifted_window_of_the_zero_padded_image():
    images = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6) + 1
    g = torch.Generator().manual_seed(0)
    out = crop_and_flip(images, padding=2, hflip=False, generator=g)
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for i in range(2):
        windows = [padded[i, :, dy : dy + 6, dx : dx + 6] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)
    assert torch.equal(crop_and_flip(images, 0, False, g), images)


def test_flip_mirrors_about_half_of_the_images():
    images = torch.rand(400, 1, 4, 4)
    out = crop_and_flip(images, 0, True, torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(o, i.flip(2)) for o, i in zip(out, images, strict=True)])
    same = torch.tensor([torch.equal(o, i) for o, i in zip(out, images, strict=True)])
    assert bool((flipped | same).all()) and 150 < int(flipped.sum()) < 250


def test_training_is_bitwise_deterministic(workdir):
    outputs = []
    for _ in range(2):
        assert run_stage("train", "tiny", cwd=workdir).returncode == 0
        outputs.append((workdir / "models/tiny.pt").read_bytes())
        outputs.append((workdir / "reports/metrics/tiny.json").read_bytes())
    assert outputs[0] == outputs[2] and outputs[1] == outputs[3]
    metrics = json.loads(outputs[1])
    assert metrics["epochs"] == 3 and metrics["device"] == "cpu"
    assert 0.1 < metrics["test_accuracy"] <= 1
    model = load_model(workdir / "models/tiny.pt")
    assert model.spec.arch == "resnet18" and model.spec.in_channels == 1
    assert not (workdir / "checkpoints/tiny.pt").exists()  # removed once the model is saved
    log = (workdir / "reports/train/tiny/plots/metrics/train_loss.tsv").read_text().splitlines()
    assert len(log) == 1 + 3


@pytest.mark.parametrize(
    "adversarial",
    [
        None,
        {"alpha": 0.5, "epsilon": "8/255", "step_size": "2/255", "steps": 2},
        {
            "alpha": 0.5,
            "epsilon": "8/255",
            "step_size": "2/255",
            "steps": 2,
            "mix": "loss",
            "random_start": True,
        },
    ],  # fmt: skip
    ids=["clean", "adversarial", "adversarial-loss-mix"],
)
def test_resume_after_kill_gives_the_uninterrupted_weights(workdir, tmp_path_factory, adversarial):
    write_params(workdir, tiny_params(epochs=8, adversarial=adversarial))
    # The uninterrupted reference run, in a copy of the working directory.
    reference = tmp_path_factory.mktemp("reference")
    (reference / "data").symlink_to(workdir / "data")
    write_params(reference, tiny_params(epochs=8, adversarial=adversarial))
    assert run_stage("train", "tiny", cwd=reference).returncode == 0

    checkpoint = workdir / "checkpoints/tiny.pt"
    kill_after_checkpoint("train", "tiny", workdir, checkpoint)
    assert not (workdir / "models/tiny.pt").exists()

    assert run_stage("train", "tiny", cwd=workdir).returncode == 0
    timing = json.loads((workdir / "reports/timing/tiny.json").read_text())
    assert timing["resumed_from_epoch"] >= 1
    assert (workdir / "models/tiny.pt").read_bytes() == (reference / "models/tiny.pt").read_bytes()
    assert (workdir / "reports/metrics/tiny.json").read_bytes() == (
        reference / "reports/metrics/tiny.json"
    ).read_bytes()
    resumed_log = workdir / "reports/train/tiny/plots/metrics/train_loss.tsv"
    reference_log = reference / "reports/train/tiny/plots/metrics/train_loss.tsv"
    assert resumed_log.read_text() == reference_log.read_text()


def test_a_checkpoint_of_another_configuration_is_not_resumed(workdir):
    write_params(workdir, tiny_params(epochs=8))
    kill_after_checkpoint("train", "tiny", workdir, workdir / "checkpoints/tiny.pt")
    write_params(workdir, tiny_params(epochs=2, lr=0.05))
    assert run_stage("train", "tiny", cwd=workdir).returncode == 0
    assert json.loads((workdir / "reports/timing/tiny.json").read_text())["resumed_from_epoch"] == 0


def test_a_resumed_training_replays_the_dropout_masks_bitwise(tmp_path):
    """VGG16-BN's classifier has dropout; its masks come from torch's default generator,
    whose state the checkpoint carries."""
    from stitchkit.data.datasets import prepare_digits
    from stitchkit.models.architectures import ModelSpec
    from stitchkit.models.checkpoints import load_training_state
    from stitchkit.models.training import train_model

    data = prepare_digits(0.25, 0)
    spec = ModelSpec("vgg16_bn", 10, 1, 4, *data.channel_stats())
    recipe = Recipe(
        epochs=3, batch_size=64, lr=0.01, lr_drops=(), crop_padding=0, hflip=False,
        train_samples=256, checkpoint_every=1, eval_every=3,
    )  # fmt: skip
    cpu = torch.device("cpu")
    whole = train_model(spec, recipe, 0, data, cpu, tmp_path / "whole.pt")
    state = load_training_state(tmp_path / "whole.pt")  # written after epoch 2 of 3
    assert state["epoch"] == 2
    resumed = train_model(spec, recipe, 0, data, cpu, tmp_path / "resumed.pt", resume_from=state)
    assert resumed.resumed_from_epoch == 2
    for (name, a), b in zip(
        whole.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_a_model_trained_on_a_shortcut_setting_learns_its_markers(workdir):
    # all 1,347 images: on 512 the width-4 model learnt the markers or not by the seed
    # and the last bits (shortcut accuracy 0.10-0.30); on all, 1.0 for seeds 0-2 with
    # NCHW and channels_last tensors alike
    params = tiny_params(train_samples=None)
    params["shortcuts"] = {"digits-aruco": {"source": "digits", "kind": "combination",
                                            "pattern": "aruco", "size": 8}}  # fmt: skip
    params["models"]["biased"] = {**params["models"]["tiny"], "dataset": "digits-aruco"}
    write_params(workdir, params)
    assert run_stage("shortcut", "digits-aruco", cwd=workdir).returncode == 0
    done = run_stage("train", "biased", cwd=workdir)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((workdir / "reports/metrics/biased.json").read_text())
    assert metrics["dataset"] == "digits-aruco"
    # on test images carrying their class's marker it does better than on clean ones
    assert metrics["shortcut_test_accuracy"] > metrics["test_accuracy"] + 0.1, metrics
