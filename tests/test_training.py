"""Base training: schedule, augmentation, determinism, and resume after a kill."""

import json

import pytest
import torch

from conftest import kill_after_checkpoint, run_stage, tiny_params, write_params
from stitchkit.augment import crop_and_flip
from stitchkit.checkpoints import load_model
from stitchkit.errors import UserError
from stitchkit.training import Recipe


def test_lr_drops_tenfold_at_each_third_by_default():
    recipe, total = Recipe(), 300
    assert [recipe.lr_at(s, total) for s in (0, 99)] == [0.1, 0.1]
    assert recipe.lr_at(100, total) == pytest.approx(0.01)
    assert recipe.lr_at(199, total) == pytest.approx(0.01)
    assert recipe.lr_at(200, total) == pytest.approx(0.001)
    assert recipe.lr_at(299, total) == pytest.approx(0.001)
    late = Recipe(lr=0.03, lr_drops=(0.75,))
    assert [late.lr_at(s, 4) for s in range(4)] == pytest.approx([0.03, 0.03, 0.03, 0.003])


@pytest.mark.parametrize(
    "bad",
    [
        {"epochs": 0},
        {"epochs": -3},
        {"batch_size": 0},
        {"lr": 0},
        {"crop_padding": -1},
        {"lr_drops": (0.5, 1.5)},
    ],
)
def test_bad_recipe_is_a_user_error(bad):
    with pytest.raises(UserError):
        Recipe(**bad)


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
    [None, {"alpha": 0.5, "epsilon": "8/255", "step_size": "2/255", "steps": 2}],
    ids=["clean", "adversarial"],
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
