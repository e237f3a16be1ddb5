"""Every architecture: stitching points, exact front/end composition, specs, files."""

import pytest
import timm
import torch
import torchvision

from stitchkit.common.errors import UserError
from stitchkit.models.architectures import ARCHITECTURES, RESNETS, ModelSpec, Normalize, build_model
from stitchkit.models.checkpoints import load_model, save_model
from stitchkit.models.strided_pointwise import StridedPointwise

SPEC = dict(num_classes=10, in_channels=3, width=4, mean=(0.5, 0.4, 0.3), std=(0.2, 0.2, 0.2))
SMALL = {"vit_tiny": dict(width=12, depth=3)}  # 3 heads of 4 dimensions, 3 blocks


def spec_of(arch: str, **overrides) -> ModelSpec:
    return ModelSpec(arch, **(SPEC | SMALL.get(arch, {}) | overrides))


def trained_like(arch: str) -> torch.nn.Module:
    """A small model with non-trivial BN statistics, in eval mode."""
    torch.manual_seed(0)
    model = build_model(spec_of(arch))
    with torch.no_grad():
        model.train()
        model(torch.rand(16, 3, 32, 32))
    return model.eval()


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_front_and_end_compose_to_whole_model_at_every_point(arch):
    model = trained_like(arch)
    x = torch.rand(5, 3, 32, 32)
    with torch.no_grad():
        whole = model(x)
        for k in range(1, model.num_points + 1):
            assert torch.equal(model.forward_from(model.forward_to(x, k), k), whole), k


@pytest.mark.parametrize("arch", sorted(RESNETS))
def test_stitching_points_are_stem_then_first_and_last_block_of_each_stage(arch):
    model = trained_like(arch)
    shapes = [tuple(model.forward_to(torch.rand(2, 3, 32, 32), k).shape[1:]) for k in range(1, 10)]
    w = SPEC["width"]
    assert shapes == [
        (w, 32, 32),
        (w, 32, 32),
        (w, 32, 32),
        (2 * w, 16, 16),
        (2 * w, 16, 16),
        (4 * w, 8, 8),
        (4 * w, 8, 8),
        (8 * w, 4, 4),
        (8 * w, 4, 4),
    ]
    blocks, _ = RESNETS[arch]
    assert [len(s) for s in model.model.segments[1:]] == [n for b in blocks for n in (1, b - 1)]
    assert model.features(torch.rand(2, 3, 32, 32)).shape == (2, 8 * w)


def test_normalisation_is_the_explicit_first_module():
    model = trained_like("resnet18")
    first = model.preprocess
    assert isinstance(first, Normalize)
    x = torch.rand(2, 3, 8, 8)
    expected = (x - torch.tensor(SPEC["mean"]).view(1, 3, 1, 1)) / 0.2
    assert torch.allclose(first(x), expected)


def test_plain18_has_no_residual_connections():
    plain, resnet = trained_like("plain18"), trained_like("resnet18")
    assert all(not b.residual for s in plain.model.segments[1:] for b in s)
    assert sum(p.numel() for p in plain.parameters()) < sum(p.numel() for p in resnet.parameters())


@pytest.fixture
def torch_threads():
    """Set torch's CPU threads within a test; restored after it."""
    previous = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(previous)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("in_channels", [1, 2, 4, 7, 8, 16])
def test_the_downsampling_shortcut_computes_a_strided_1x1_convolution_and_its_gradients(
    in_channels, layout, threads, torch_threads
):
    """Also where oneDNN's own NHWC kernel crashes or errs (in_channels 2-7 on AVX2)."""
    torch_threads(threads)
    torch.manual_seed(in_channels)
    conv = StridedPointwise(in_channels, 2 * in_channels, stride=2)
    x, upstream = torch.randn(64, in_channels, 16, 16), torch.randn(64, 2 * in_channels, 8, 8)
    x64 = x.double().requires_grad_()
    w64 = conv.weight.detach().double().requires_grad_()
    out64 = torch.nn.functional.conv2d(x64, w64, stride=2)
    out64.backward(upstream.double())

    conv = conv.to(memory_format=layout)
    x = x.contiguous(memory_format=layout).requires_grad_()
    out = conv(x)
    out.backward(upstream.contiguous(memory_format=layout))
    for got, want in ((out, out64), (conv.weight.grad, w64.grad), (x.grad, x64.grad)):
        # float32 sums of up to 64 x 8 x 8 terms: 1e-6 of the largest; the bug: 1e-3 or more
        assert (got.double() - want).abs().max() <= 2e-5 * want.abs().max()


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_activations_and_end_terms_agree_with_the_halves(arch):
    model = trained_like(arch)
    x = torch.rand(3, 3, 32, 32)
    n = model.num_points
    middle = n // 2 + 1
    with torch.no_grad():
        acts = model.activations(x, [2, middle, n])
        for k in (2, middle, n):
            assert torch.equal(acts[k], model.forward_to(x, k))
        terms = list(model.end_terms(acts[middle], middle))  # points middle..n, then logits
        assert len(terms) == model.num_hint_terms(middle) + 1 == n - middle + 2
        assert all(
            torch.equal(t, model.forward_to(x, k))
            for k, t in zip(range(middle, n + 1), terms[:-1], strict=True)
        )
        assert torch.equal(terms[-1], model(x))


def test_vgg16_bn_points_are_the_authors_relus_after_each_stages_last_conv():
    model = trained_like("vgg16_bn")
    w = SPEC["width"]
    shapes = [
        tuple(a.shape[1:])
        for a in model.activations(torch.rand(2, 3, 32, 32), range(1, 7)).values()
    ]
    assert shapes == [
        (w, 32, 32),
        (w, 32, 32),
        (2 * w, 16, 16),
        (4 * w, 8, 8),
        (8 * w, 4, 4),
        (8 * w, 2, 2),
    ]
    assert model.points == [
        "features.2",
        "features.5",
        "features.12",
        "features.22",
        "features.32",
        "features.42",
    ]


def test_vit_tiny_points_are_every_block_then_the_pre_head_features():
    model = trained_like("vit_tiny")
    acts = model.activations(torch.rand(2, 3, 32, 32), range(1, 5))
    assert [tuple(a.shape[1:]) for a in acts.values()] == [(65, 12)] * 3 + [(12,)]
    assert model.points == ["blocks.0", "blocks.1", "blocks.2", "head_drop"]
    assert ModelSpec("vit_tiny", **(SPEC | {"width": 192})).to_dict().get("depth") is None
    assert ARCHITECTURES["vit_tiny"].num_points(None) == 13  # ViT-Tiny: 12 blocks and the head


def test_a_vit_of_larger_patches_has_fewer_tokens_at_the_same_points(tmp_path):
    spec = spec_of("vit_tiny", patch=8)
    assert spec.to_dict()["patch"] == 8 and "patch" not in spec_of("vit_tiny").to_dict()
    model = build_model(spec).eval()
    acts = model.activations(torch.rand(2, 3, 32, 32), range(1, 5))
    assert [tuple(a.shape[1:]) for a in acts.values()] == [(17, 12)] * 3 + [(12,)]
    save_model(model, tmp_path / "m.pt")
    assert load_model(tmp_path / "m.pt").spec == spec


def test_width_64_vgg16_bn_is_torchvisions_network():
    torch.manual_seed(0)
    reference = torchvision.models.vgg16_bn(num_classes=10).eval()
    model = build_model(spec_of("vgg16_bn", width=64, mean=(0.0,) * 3, std=(1.0,) * 3)).eval()
    model.model.load_state_dict(reference.state_dict())  # same names, same shapes
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))


def test_width_192_vit_tiny_is_the_authors_timm_network():
    model = build_model(spec_of("vit_tiny", width=192, depth=None)).model
    reference = timm.models.vision_transformer.VisionTransformer(
        img_size=32, patch_size=4, embed_dim=192, depth=12, num_heads=3, num_classes=10
    )
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()
    }


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_a_saved_model_loads_to_the_same_function(arch, tmp_path):
    model = trained_like(arch)
    save_model(model, tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt")
    assert loaded.spec == model.spec and not loaded.training
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


@pytest.mark.parametrize(
    "arch, overrides, message",
    [
        ("resnet18", {"depth": 4}, "fixed depth"),
        ("vit_tiny", {"width": 16}, "multiple of 3"),
        ("vit_tiny", {"depth": 0}, "depth must be >= 1"),
        ("resnet18", {"patch": 8}, "fixed patch"),
        ("vit_tiny", {"patch": 5}, "does not divide the 32-pixel images"),
    ],
)
def test_bad_architecture_settings_are_user_errors(arch, overrides, message):
    with pytest.raises(UserError, match=message):
        spec_of(arch, **overrides)


@pytest.mark.parametrize("k", [0, 10, -1])
def test_point_out_of_range_is_a_user_error(k):
    with pytest.raises(UserError, match="out of range; use 1..9"):
        trained_like("resnet18").forward_to(torch.rand(1, 3, 32, 32), k)


def test_unknown_architecture_is_a_user_error():
    with pytest.raises(UserError, match="unknown architecture 'vgg'"):
        ModelSpec("vgg", **SPEC)


def test_spec_round_trips_through_dict():
    spec = ModelSpec("resnet34", **SPEC)
    assert ModelSpec.from_dict(spec.to_dict()) == spec


@torch.no_grad()
def _permute_vgg(network, generator) -> None:
    """Permute every conv layer's output channels (and the next layer's inputs)."""
    previous = None
    convs = [m for m in network.features if isinstance(m, torch.nn.Conv2d)]
    norms = [m for m in network.features if isinstance(m, torch.nn.BatchNorm2d)]
    for conv, norm in zip(convs, norms, strict=True):
        p = torch.randperm(conv.out_channels, generator=generator)
        weight = conv.weight if previous is None else conv.weight[:, previous]
        conv.weight.copy_(weight[p])
        for tensor in (conv.bias, norm.weight, norm.bias, norm.running_mean, norm.running_var):
            tensor.copy_(tensor[p])
        previous = p
    first = network.classifier[0]  # reads the flattened (channels, 7, 7) map
    first.weight.copy_(
        first.weight.view(first.out_features, len(previous), -1)[:, previous].flatten(1)
    )


@torch.no_grad()
def _permute_vit(network, generator) -> None:
    """Permute the embedding dimensions of the residual stream."""
    p = torch.randperm(network.embed_dim, generator=generator)

    def writes(module):  # a map into the embedding: permute its outputs
        module.weight.copy_(module.weight[p])
        module.bias.copy_(module.bias[p])

    def reads(linear):  # a map from the embedding: permute its inputs
        linear.weight.copy_(linear.weight[:, p])

    writes(network.patch_embed.proj)
    network.cls_token.copy_(network.cls_token[..., p])
    network.pos_embed.copy_(network.pos_embed[..., p])
    for block in network.blocks:
        writes(block.norm1), reads(block.attn.qkv), writes(block.attn.proj)
        writes(block.norm2), reads(block.mlp.fc1), writes(block.mlp.fc2)
    writes(network.norm)
    reads(network.head)


@pytest.mark.parametrize("arch, permute", [("vgg16_bn", _permute_vgg), ("vit_tiny", _permute_vit)])
def test_dm_recovers_a_permuted_twin_exactly_at_every_point(arch, permute, digits):
    """The twin computes the same function with its channels (VGG) or embedding (ViT)
    permuted, so at every point DM finds the permutation: residual 0, same predictions."""
    import copy

    from stitchkit.models.evaluation import accuracy
    from stitchkit.stitching.recipe import StitchRecipe
    from stitchkit.stitching.trainer import stitch

    torch.manual_seed(0)
    model = build_model(spec_of(arch, in_channels=1, mean=(0.5,), std=(0.25,))).eval()
    twin = copy.deepcopy(model)
    permute(twin.model, torch.Generator().manual_seed(1))
    x = torch.rand(4, 1, 32, 32)
    assert torch.allclose(twin(x), model(x), atol=1e-5)
    assert not torch.allclose(twin.forward_to(x, 1), model.forward_to(x, 1))  # permuted
    own = accuracy(model, digits.test_images, digits.test_labels)
    for k in range(1, model.num_points + 1):
        result = stitch(
            model, twin, k, k, "dm", digits, StitchRecipe(epochs=1, lr_drops=()), progress=False
        )
        assert result.dm_residual < 1e-5, k
        assert abs(result.test_accuracy - own) <= 1 / len(digits.test_labels), k
