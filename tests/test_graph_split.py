"""Stitching points derived from a model's graph (torch.fx) compose to the whole model."""

import copy

import pytest
import torch
import torchvision
from torch import nn

from stitchkit.common.errors import UserError
from stitchkit.models.architectures import ModelSpec, ResNet
from stitchkit.models.graph_split import GraphSplit

OUR_POINTS = [f"segments.{i}" for i in range(9)]
RESNET18_POINTS = ["relu", "layer1.0", "layer1.1", "layer2.0", "layer2.1"]
RESNET18_POINTS += ["layer3.0", "layer3.1", "layer4.0", "layer4.1"]
# the authors' VGG16-BN points: the ReLUs after conv1_1, conv1_2, conv2_2, conv3_3,
# conv4_3 and conv5_3
VGG16_POINTS = ["features.2", "features.5", "features.12", "features.22"]
VGG16_POINTS += ["features.32", "features.42"]
VIT_POINTS = [f"encoder.layers.encoder_layer_{i}" for i in range(4)] + ["encoder.ln"]


def ours(arch: str) -> ResNet:
    """One of our ResNets as a plain network (build_model splits it with GraphSplit)."""
    return ResNet(ModelSpec(arch, 10, 3, 8, (0.5,) * 3, (0.25,) * 3))


def small_vit(num_classes: int = 10) -> nn.Module:
    return torchvision.models.VisionTransformer(
        image_size=32, patch_size=4, num_layers=4, num_heads=3, hidden_dim=48, mlp_dim=96,
        num_classes=num_classes,
    )  # fmt: skip


MODELS = {
    "ours-resnet18": (lambda: ours("resnet18"), OUR_POINTS),
    "ours-resnet34": (lambda: ours("resnet34"), OUR_POINTS),
    "ours-plain18": (lambda: ours("plain18"), OUR_POINTS),
    "torchvision-resnet18": (lambda: torchvision.models.resnet18(num_classes=10), RESNET18_POINTS),
    "torchvision-vgg16_bn": (lambda: torchvision.models.vgg16_bn(num_classes=10), VGG16_POINTS),
    "torchvision-vit": (small_vit, VIT_POINTS),
}


def _trained_statistics(model: nn.Module) -> nn.Module:
    """``model`` in eval mode with BatchNorm statistics that are not the identity."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.1, generator=generator)
            module.running_var.uniform_(0.5, 1.5, generator=generator)
    return model.eval()


@pytest.mark.parametrize("name", MODELS)
def test_every_point_composes_to_the_whole_model(name):
    build, points = MODELS[name]
    torch.manual_seed(0)
    model = _trained_statistics(build())
    split = GraphSplit(model, points, (3, 32, 32))
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
        assert torch.equal(split(x), expected)
        for k in range(1, len(points) + 1):
            assert torch.equal(split.forward_from(split.forward_to(x, k), k), expected), k
        terms = list(split.end_terms(split.forward_to(x, 2), 2))
    assert len(terms) == len(points) and torch.equal(terms[-1], expected)


def test_derived_points_are_our_resnets_segments_run_one_after_another():
    """What the hand-written forward_to / forward_from of our ResNets computed."""
    model = _trained_statistics(ours("resnet18"))
    split = GraphSplit(model, OUR_POINTS, (3, 32, 32), classifier="fc")
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        h, by_hand = x, {}
        for k, segment in enumerate(model.segments, start=1):
            h = by_hand[k] = segment(h)
        derived = split.activations(x, range(1, 10))
        for k in range(1, 10):
            assert torch.equal(derived[k], by_hand[k])
            tail = by_hand[k]
            for segment in model.segments[k:]:
                tail = segment(tail)
            pooled = tail.mean(dim=(2, 3))
            assert torch.equal(split.features_from(by_hand[k], k), pooled)
            assert torch.equal(split.forward_from(by_hand[k], k), model.fc(pooled))


def test_features_need_a_classifier_called_after_the_last_point():
    split = GraphSplit(ours("resnet18"), OUR_POINTS, (3, 32, 32))
    with pytest.raises(UserError, match="give GraphSplit the classifier's module path"):
        split.features(torch.rand(1, 3, 32, 32))
    with pytest.raises(UserError, match="classifier 'segments.1' must be one module called"):
        GraphSplit(ours("resnet18"), OUR_POINTS[2:], (3, 32, 32), classifier="segments.1")


def test_the_split_shares_the_models_parameters_and_mode():
    model = ours("resnet18")
    split = GraphSplit(model, OUR_POINTS, (3, 32, 32))
    assert sum(p.numel() for p in split.parameters()) == sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        model.segments[0][0].weight.zero_()
    split.to(torch.float64).eval()
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(split.forward_to(x, 1), model.segments[0](x))
        assert torch.equal(split(x), model(x))
    assert split.num_classes == 10


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x) if x.sum() > 0 else x


class WithDataDependentBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 3, 1)
        self.blocks = nn.Sequential(nn.Identity(), DataDependent())

    def forward(self, x):
        return self.blocks(self.stem(x)).mean(dim=(2, 3))


@pytest.mark.parametrize(
    ("build", "points", "message"),
    [
        (lambda: ours("resnet18"), ["segments.0", "nope"], "'nope' is not a module"),
        (lambda: ours("resnet18"), ["segments.3", "segments.1"], "list points in forward order"),
        (
            lambda: torchvision.models.resnet18(),
            ["layer1.0.conv1", "layer2"],
            "'layer1.0.conv1' is not a cut",
        ),
        (DataDependent, ["conv"], "DataDependent cannot be traced by torch.fx at its own forward"),
        (
            WithDataDependentBlock,
            ["stem"],
            "WithDataDependentBlock cannot be traced by torch.fx at module 'blocks.1'",
        ),
    ],
    ids=["unknown", "order", "not-a-cut", "untraceable", "untraceable-inside"],
)
def test_bad_points_fail_with_one_line_naming_them(build, points, message):
    with pytest.raises(UserError, match=message) as caught:
        GraphSplit(build(), points, (3, 32, 32))
    assert "\n" not in str(caught.value)


class GrayToRGB(nn.Module):
    def forward(self, x):
        return x.expand(-1, 3, -1, -1)


def torchvision_split(build, points, seed: int) -> GraphSplit:
    """A randomly initialised torchvision model on 1x32x32 digits, with its own
    preprocessing (grey to RGB, ImageNet normalisation)."""
    torch.manual_seed(seed)
    preprocess = nn.Sequential(
        GrayToRGB(), torchvision.transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    )
    return GraphSplit(build(num_classes=10).eval(), points, (1, 32, 32), preprocess)


def test_stitch_torchvision_models_of_the_same_and_of_other_architectures(digits):
    from stitchkit.models.evaluation import accuracy
    from stitchkit.stitching.recipe import StitchRecipe
    from stitchkit.stitching.trainer import stitch

    recipe = StitchRecipe(
        epochs=1, batch_size=64, train_samples=256, crop_padding=0, hflip=False, lr_drops=(),
        dm_samples=1000,  # layer4.1 is 512 x 1 x 1 here: least squares needs > 512 rows
    )  # fmt: skip
    resnet = torchvision_split(torchvision.models.resnet18, RESNET18_POINTS, 0)
    vgg = torchvision_split(torchvision.models.vgg16_bn, VGG16_POINTS, 1)
    own = accuracy(resnet, digits.test_images, digits.test_labels)
    for k in (1, 5, 9):  # DM of a model with itself is the identity: same predictions
        result = stitch(resnet, resnet, k, k, "dm", digits, recipe, progress=False)
        assert result.dm_residual < 1e-5
        assert abs(result.test_accuracy - own) <= 1 / len(digits.test_labels)
    # ResNet18 layer2.1 (128 x 4 x 4) into VGG16-BN after conv3_3 (256 x 8 x 8)
    result = stitch(resnet, vgg, 5, 4, "fula", digits, recipe, progress=False)
    assert result.layer.end_shape == (256, 8, 8) and len(result.epoch_losses) == 1
    assert result.final_loss < result.initial_loss  # FuLA's hints at VGG's points 4..6


@torch.no_grad()
def permuted_embedding_twin(vit: nn.Module, seed: int = 0):
    """A copy of a torchvision ViT computing the same function with its embedding
    dimensions permuted: every token activation of the copy is the original's [..., p]."""
    twin = copy.deepcopy(vit)
    p = torch.randperm(vit.hidden_dim, generator=torch.Generator().manual_seed(seed))

    def writes(linear):  # a map into the embedding: permute its outputs
        linear.weight.copy_(linear.weight[p])
        linear.bias.copy_(linear.bias[p])

    def reads(weight):  # a map from the embedding: permute its inputs
        weight.copy_(weight[:, p])

    writes(twin.conv_proj)
    twin.class_token.copy_(twin.class_token[..., p])
    twin.encoder.pos_embedding.copy_(twin.encoder.pos_embedding[..., p])
    for block in twin.encoder.layers:
        writes(block.ln_1)
        reads(block.self_attention.in_proj_weight)
        writes(block.self_attention.out_proj)
        writes(block.ln_2)
        reads(block.mlp[0].weight)
        writes(block.mlp[3])
    writes(twin.encoder.ln)
    reads(twin.heads.head.weight)
    return twin


def test_dm_recovers_a_permuted_embedding_twin_of_a_vit_at_every_point(digits):
    from stitchkit.models.evaluation import accuracy
    from stitchkit.stitching.recipe import StitchRecipe
    from stitchkit.stitching.trainer import stitch

    vit = torchvision_split(small_vit, VIT_POINTS, 0)
    twin = GraphSplit(permuted_embedding_twin(vit.model), VIT_POINTS, (1, 32, 32), vit.preprocess)
    x = torch.rand(4, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(twin(x), vit(x), atol=1e-5)
    own = accuracy(vit, digits.test_images, digits.test_labels)
    recipe = StitchRecipe(epochs=1, lr_drops=())
    for k in range(1, vit.num_points + 1):
        result = stitch(vit, twin, k, k, "dm", digits, recipe, progress=False)
        assert result.layer.end_shape == (65, 48)  # 64 patches and the class token
        assert result.dm_residual < 1e-5, k
        assert abs(result.test_accuracy - own) <= 1 / len(digits.test_labels), k


def test_stitch_between_feature_maps_and_tokens_both_ways(digits):
    from stitchkit.stitching.layers import AxisStitch
    from stitchkit.stitching.recipe import StitchRecipe
    from stitchkit.stitching.trainer import stitch

    recipe = StitchRecipe(epochs=1, batch_size=64, train_samples=256, lr_drops=())
    resnet = torchvision_split(torchvision.models.resnet18, RESNET18_POINTS, 0)
    vit = torchvision_split(small_vit, VIT_POINTS, 1)
    # ResNet18 layer2.1 (128 x 4 x 4) into the ViT's tokens after block 1 (65 x 48), and back
    for front, end, i, j in ((resnet, vit, 5, 2), (vit, resnet, 2, 5)):
        result = stitch(front, end, i, j, "fula", digits, recipe, progress=False)
        assert isinstance(result.layer, AxisStitch) and result.dm_residual is None
        assert result.final_loss < result.initial_loss  # FuLA's hints on tokens / maps
    with pytest.raises(UserError, match="mode dm has no least-squares solution") as caught:
        stitch(resnet, vit, 5, 2, "dm", digits, recipe, progress=False)
    assert "\n" not in str(caught.value)


def test_vector_points_stitch_by_dm_and_into_feature_maps(digits):
    from stitchkit.models.evaluation import accuracy
    from stitchkit.stitching.layers import FromVectorStitch
    from stitchkit.stitching.recipe import StitchRecipe
    from stitchkit.stitching.trainer import stitch

    torch.manual_seed(0)
    mlp = nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
        nn.Linear(4 * 16 * 16, 32), nn.ReLU(), nn.Linear(32, 10),
    )  # fmt: skip
    split = GraphSplit(mlp.eval(), ["1", "4"], (1, 32, 32))  # (4, 16, 16), then (32,)
    recipe = StitchRecipe(epochs=1, batch_size=64, train_samples=256, lr_drops=())
    result = stitch(split, split, 2, 2, "dm", digits, recipe, progress=False)
    assert result.dm_residual < 1e-5
    own = accuracy(split, digits.test_images, digits.test_labels)
    assert abs(result.test_accuracy - own) <= 1 / len(digits.test_labels)
    result = stitch(split, split, 2, 1, "tlm", digits, recipe, progress=False)
    assert isinstance(result.layer, FromVectorStitch) and result.layer.end_shape == (4, 16, 16)
    assert result.final_loss < result.initial_loss
