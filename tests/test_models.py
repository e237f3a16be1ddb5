"""The three architectures: stitching points, exact front/end composition, specs."""

import pytest
import torch

from stitchkit.errors import UserError
from stitchkit.models import ARCHITECTURES, ModelSpec, Normalize, build_model

SPEC = dict(num_classes=10, in_channels=3, width=4, mean=(0.5, 0.4, 0.3), std=(0.2, 0.2, 0.2))


def trained_like(arch: str) -> torch.nn.Module:
    """A model with non-trivial BN statistics, in eval mode."""
    torch.manual_seed(0)
    model = build_model(ModelSpec(arch, **SPEC))
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


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
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
    blocks, _ = ARCHITECTURES[arch]
    assert [len(s) for s in model.segments[1:]] == [n for b in blocks for n in (1, b - 1)]
    assert model.features(torch.rand(2, 3, 32, 32)).shape == (2, 8 * w)


def test_normalisation_is_the_explicit_first_module():
    model = trained_like("resnet18")
    first = model.segments[0][0]
    assert isinstance(first, Normalize)
    x = torch.rand(2, 3, 8, 8)
    expected = (x - torch.tensor(SPEC["mean"]).view(1, 3, 1, 1)) / 0.2
    assert torch.allclose(first(x), expected)


def test_plain18_has_no_residual_connections():
    plain, resnet = trained_like("plain18"), trained_like("resnet18")
    assert all(not b.residual for s in plain.segments[1:] for b in s)
    assert sum(p.numel() for p in plain.parameters()) < sum(p.numel() for p in resnet.parameters())


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_activations_and_end_terms_agree_with_the_halves(arch):
    model = trained_like(arch)
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        acts = model.activations(x, [2, 5, 9])
        for k in (2, 5, 9):
            assert torch.equal(acts[k], model.forward_to(x, k))
        terms = list(model.end_terms(acts[5], 5))  # points 5..9, then the logits
        assert len(terms) == model.num_hint_terms(5) + 1 == 6
        assert all(
            torch.equal(t, model.forward_to(x, k))
            for k, t in zip(range(5, 10), terms[:5], strict=True)
        )
        assert torch.equal(terms[-1], model(x))


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
