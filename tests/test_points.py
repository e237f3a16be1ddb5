"""Stitching points found automatically (stitchkit.models.points), models named by a SPEC
(stitchkit.models.model_spec) and `stitchkit layers`, on torchvision, timm and stitchkit
models: every point found is a cut whose front and end compose to the whole model."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision

from stitchkit.common.errors import UserError
from stitchkit.models.architectures import ModelSpec, build_model
from stitchkit.models.checkpoints import save_model
from stitchkit.models.graph_split import GraphSplit
from stitchkit.models.model_spec import named_model
from stitchkit.models.points import candidate_points

STITCHKIT = Path(sys.executable).parent / "stitchkit"
SHAPE = (3, 32, 32)


def _layers(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([STITCHKIT, "layers", *args], capture_output=True, text=True)


def _assert_every_point_composes(model: torch.nn.Module, names: list[str]) -> None:
    split = GraphSplit(model.eval(), names, SHAPE)
    x = torch.rand(2, *SHAPE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        whole = model(x)
        for k in range(1, len(names) + 1):
            assert torch.allclose(split.forward_from(split.forward_to(x, k), k), whole, atol=1e-5)


def test_resnet18_points_are_its_blocks_and_stages():
    model = torchvision.models.resnet18(num_classes=10)
    points = candidate_points(model, SHAPE)
    names = [p.name for p in points]
    # each stage returns its last block's output: the block is listed
    assert names == [f"layer{s}.{b}" for s in range(1, 5) for b in (0, 1)]
    assert points[0].shape == (64, 8, 8) and points[-1].shape == (512, 1, 1)
    _assert_every_point_composes(model, names)


def test_vgg_points_are_the_activations_and_pools_of_its_flat_features():
    model = torchvision.models.vgg11_bn(num_classes=10)
    names = [p.name for p in candidate_points(model, SHAPE)]
    assert names[0] == "features.2" and "features.3" in names  # ReLU, then max-pool
    assert "classifier" not in names and "classifier.6" not in names  # never the logits
    _assert_every_point_composes(model, names)


def test_timm_vit_points_are_its_blocks():
    named = named_model("timm:vit_tiny_patch16_224,num_classes=10,img_size=32,patch_size=4")
    assert named.input_shape == SHAPE and not named.stitchkit
    names = [p.name for p in candidate_points(named.model, SHAPE)]
    assert names[1:] == [f"blocks.{b}" for b in range(12)]
    _assert_every_point_composes(named.model, names)


def test_a_state_dict_checkpoint_loads_and_a_misfit_is_refused(tmp_path):
    model = torchvision.models.resnet18(num_classes=10)
    torch.save(model.state_dict(), tmp_path / "r18.pt")
    loaded = named_model(f"torchvision:resnet18,num_classes=10@{tmp_path / 'r18.pt'}").model
    assert torch.equal(loaded.fc.weight, model.fc.weight)
    with pytest.raises(UserError, match=r"the checkpoint does not fit the architecture"):
        named_model(f"torchvision:resnet18,num_classes=100@{tmp_path / 'r18.pt'}")


def test_layers_lists_a_stitchkit_model_and_a_torchvision_one(tmp_path):
    spec = ModelSpec("resnet18", 10, 1, 8, (0.5,), (0.25,))
    save_model(build_model(spec), tmp_path / "m.pt")
    result = _layers(str(tmp_path / "m.pt"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    side = spec.input_shape[1]
    assert lines[0].endswith(f"9 stitching points on inputs 1x{side}x{side}")
    assert len(lines) == 10 and lines[1].split() == ["1", "1", f"8x{side}x{side}"]
    result = _layers("torchvision:resnet18,num_classes=10", "--input-shape", "3x32x32")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].split() == ["1", "layer1.0", "64x8x8"]
    assert result.stdout.splitlines()[0].endswith("8 stitching points on inputs 3x32x32")


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["torchvision:resnet181"], r"no torchvision model 'resnet181'"),
        (["timm:vit_nano_nothing"], r"no timm model 'vit_nano_nothing'"),
        (["models/none.pt"], r"is neither a model file nor torchvision:NAME or timm:NAME"),
        (["torchvision:resnet18@/nonexistent.pt"], r"no checkpoint at /nonexistent\.pt"),
        (["torchvision:resnet18,num_classes"], r"'num_classes' is not KEY=VALUE"),
        (["torchvision:resnet18", "--input-shape", "32x32"], r"give channels x height x width"),
        (["torchvision:resnet18", "--input-shape", "1x32x32"], r"fails on inputs of shape"),
    ],
    ids=["torchvision-name", "timm-name", "path", "checkpoint", "kwarg", "shape", "channels"],
)
def test_bad_specs_get_one_line_and_exit_2(args, pattern):
    result = _layers(*args)
    lines = result.stderr.strip().splitlines()
    lines = [line for line in lines if not line.startswith("W1205")]  # torch's CUDA notice
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), lines
    assert __import__("re").search(pattern, lines[0]), lines[0]
