"""bf16 autocast and the channels_last layout (compute.precision, compute.channels_last)
against fp32 on contiguous tensors, on the CPU."""

import copy
from dataclasses import replace

import pytest
import torch

from stitchkit.common.compute import stage_precision
from stitchkit.common.errors import UserError
from stitchkit.common.precision import FP32, Precision
from stitchkit.models.architectures import ModelSpec
from stitchkit.models.training import Recipe, run_fingerprint, train_model
from stitchkit.stitching.recipe import StitchRecipe, make_spec
from stitchkit.stitching.trainer import PanelTrainer

BF16 = Precision(bf16=True, device_type="cpu", channels_last=True)
FP32_NHWC = Precision(channels_last=True)
RECIPE = Recipe(epochs=3, batch_size=64, lr=0.03, lr_drops=(2,), crop_padding=0, hflip=False)
STITCH = StitchRecipe(
    epochs=1, batch_size=64, train_samples=512, crop_padding=0, hflip=False, lr_drops=(),
    lr=0.01, eval_batch_size=500,
)  # fmt: skip


@pytest.fixture(scope="module")
def models(digits, tmp_path_factory):
    """A digits ResNet18 trained in fp32, the same run on channels_last tensors, in bf16."""
    mean, std = digits.channel_stats()
    spec = ModelSpec("resnet18", 10, 1, 8, mean, std)
    checkpoint = tmp_path_factory.mktemp("ckpt") / "unused.pt"
    return {
        p.arithmetic: train_model(
            spec, RECIPE, 0, digits, torch.device("cpu"), checkpoint, precision=p
        )
        for p in (FP32, FP32_NHWC, BF16)
    }


def test_auto_is_bf16_on_cuda_only_channels_last_by_default_and_unknown_names_fail():
    assert Precision.resolve("auto", "cpu", False) == FP32
    assert Precision.resolve("auto", "cuda", True) == Precision(True, "cuda", True)
    assert Precision.resolve("bf16", "cpu", True) == BF16
    assert stage_precision({"compute": {"precision": "fp32"}}, torch.device("cuda")).name == "fp32"
    assert stage_precision({}, torch.device("cpu")) == FP32_NHWC
    assert stage_precision({"compute": {"channels_last": False}}, torch.device("cpu")) == FP32
    assert FP32.arithmetic != FP32_NHWC.arithmetic  # checkpoints resume only their own layout
    with pytest.raises(UserError, match="compute.precision"):
        stage_precision({"compute": {"precision": "fp16"}}, torch.device("cpu"))
    with pytest.raises(UserError, match="compute.channels_last"):
        stage_precision({"compute": {"channels_last": "yes"}}, torch.device("cpu"))


def test_bf16_training_keeps_fp32_weights_and_fp32_accuracy(models, digits):
    fp32, bf16 = models[FP32.arithmetic], models[BF16.arithmetic]
    assert fp32.test_accuracy > 0.85
    assert abs(bf16.test_accuracy - fp32.test_accuracy) < 0.05
    conv = bf16.model.model.segments[0][0].weight
    assert conv.dtype == torch.float32
    assert conv.is_contiguous(memory_format=torch.channels_last)
    spec = bf16.model.spec
    assert run_fingerprint(spec, RECIPE, 0, digits, "bf16") != run_fingerprint(
        spec, RECIPE, 0, digits, "fp32"
    )


def test_channels_last_changes_only_the_last_bits_of_fp32(models, digits):
    contiguous = models[FP32.arithmetic]
    model = copy.deepcopy(contiguous.model).eval()
    x = digits.test_images[:64].float() / 255
    with torch.no_grad():
        reference = model(x)
        nhwc = FP32_NHWC.prepare(model)(FP32_NHWC.images(x))
    assert nhwc.is_contiguous() and not torch.equal(nhwc, reference)  # other sums ...
    assert torch.allclose(nhwc, reference, rtol=1e-4, atol=1e-4)  # ... the same logits
    trained = models[FP32_NHWC.arithmetic]
    assert trained.model.model.segments[0][0].weight.is_contiguous(
        memory_format=torch.channels_last
    )
    assert abs(trained.test_accuracy - contiguous.test_accuracy) < 0.02


def _fit(model, data, precision, batching="per-stitch"):
    specs = [make_spec(m, k, k, model) for m in ("dm", "hint", "fula") for k in (3, 7)]
    twins = copy.deepcopy(model), copy.deepcopy(model)
    recipe = replace(STITCH, batching=batching)
    trainer = PanelTrainer(*twins, data, specs, recipe, "cpu", precision=precision)
    return trainer, {r.spec.key: r.test_accuracy for r in trainer.fit(progress=False)}


def test_bf16_self_stitch_recovers_the_model_and_matches_fp32(models, digits):
    model = models[FP32.arithmetic].model
    trainer, bf16 = _fit(model, digits, BF16)
    own = trainer.scores.model_accuracy(model)
    assert abs(own - models[FP32.arithmetic].test_accuracy) < 0.02
    for k in (3, 7):  # DM of a model with itself is the identity, up to bf16 rounding
        assert abs(bf16[f"dm/{k}/{k}"] - own) < 0.02
    _, fp32 = _fit(model, digits, FP32)
    _, nhwc = _fit(model, digits, FP32_NHWC)
    _, stacked = _fit(model, digits, BF16, batching="stacked")
    for key, accuracy in fp32.items():
        assert abs(bf16[key] - accuracy) < 0.03, key
        assert abs(nhwc[key] - accuracy) < 0.01, key
        assert abs(stacked[key] - bf16[key]) < 0.03, key
