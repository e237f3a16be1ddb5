"""Stitching layers between feature maps, tokens and vectors, and their DM solution."""

import pytest
import torch
import torch.nn.functional as F

from stitchkit.common.errors import UserError
from stitchkit.stitching.layers import (
    AxisStitch,
    ConvStitch,
    FeatureStitch,
    FromVectorStitch,
    fit_direct_matching,
    has_least_squares,
    stitch_layer,
)

MAP_IN, MAP_OUT = (6, 8, 8), (5, 4, 4)
TOKENS_IN, TOKENS_OUT = (17, 12), (17, 10)
VECTOR_IN, VECTOR_OUT = (9,), (7,)

# (front, end, class, parameters): the authors' maps (models/stitch.py), all with biases
PAIRS = {
    "map-map": (MAP_IN, MAP_OUT, ConvStitch, 6 * 5 + 5),
    "tokens-tokens": (TOKENS_IN, TOKENS_OUT, FeatureStitch, 12 * 10 + 10),
    "vector-vector": (VECTOR_IN, VECTOR_OUT, FeatureStitch, 9 * 7 + 7),
    # channels -> tokens, then positions -> embedding
    "map-tokens": (MAP_IN, TOKENS_OUT, AxisStitch, (6 * 17 + 17) + (64 * 10 + 10)),
    # tokens -> channels, then embedding -> positions
    "tokens-map": (TOKENS_IN, MAP_OUT, AxisStitch, (17 * 5 + 5) + (12 * 16 + 16)),
    # channels -> one row, then positions -> features
    "map-vector": (MAP_IN, VECTOR_OUT, AxisStitch, (6 + 1) + (64 * 7 + 7)),
    "tokens-vector": (TOKENS_IN, VECTOR_OUT, AxisStitch, (17 + 1) + (12 * 7 + 7)),
    "vector-map": (VECTOR_IN, MAP_OUT, FromVectorStitch, 9 * 80 + 80),
    "vector-tokens": (VECTOR_IN, TOKENS_OUT, FromVectorStitch, 9 * 170 + 170),
}


@pytest.mark.parametrize("name", PAIRS)
def test_each_pair_of_kinds_gets_the_authors_map_onto_the_end_shape(name):
    front, end, kind, parameters = PAIRS[name]
    layer = stitch_layer(front, end)
    assert type(layer) is kind
    assert sum(p.numel() for p in layer.parameters()) == parameters
    assert layer(torch.randn(3, *front)).shape == (3, *end)
    assert layer.solvable == has_least_squares(front, end) == (len(front) == len(end))


def test_the_axis_stitch_is_a_row_map_then_a_column_map():
    """Tokens (T, D) -> map (C, H, W): out[c, p] = sum_t A[c, t] (sum_d X[t, d] B[p, d]
    + ...) computed by hand with the layer's weights."""
    layer = stitch_layer(TOKENS_IN, MAP_OUT)
    x = torch.randn(2, *TOKENS_IN)
    a, a_bias = layer.rows.weight, layer.rows.bias
    b, b_bias = layer.columns.weight, layer.columns.bias
    rows = torch.einsum("ct,ntd->ncd", a, x) + a_bias[None, :, None]
    expected = torch.einsum("ncd,pd->ncp", rows, b) + b_bias
    assert torch.allclose(layer(x), expected.reshape(2, *MAP_OUT), atol=1e-5)


@pytest.mark.parametrize("front, end", [(TOKENS_IN, TOKENS_OUT), (VECTOR_IN, VECTOR_OUT)])
def test_dm_recovers_a_known_affine_map_of_tokens_and_vectors(front, end):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, *front, generator=g)
    weight = torch.randn(end[-1], front[-1], generator=g)
    bias = torch.randn(end[-1], generator=g)
    layer = stitch_layer(front, end)
    residual = fit_direct_matching(layer, x, x @ weight.T + bias)
    assert residual < 1e-6
    assert torch.allclose(layer.linear.weight, weight, atol=1e-5)
    assert torch.allclose(layer.linear.bias, bias, atol=1e-5)


def test_dm_refuses_layers_without_a_least_squares_solution():
    layer = stitch_layer(MAP_IN, TOKENS_OUT)
    with pytest.raises(ValueError, match="no least-squares solution"):
        fit_direct_matching(layer, torch.randn(2, *MAP_IN), torch.randn(2, *TOKENS_OUT))


@pytest.mark.parametrize(
    "front, end, message",
    [
        ((65, 48), (197, 48), "same number of tokens"),
        ((2, 3, 4, 5), (3, 4, 4), "none of a feature map"),
    ],
)
def test_impossible_shapes_fail_with_one_line(front, end, message):
    with pytest.raises(UserError, match=message) as caught:
        stitch_layer(front, end)
    assert "\n" not in str(caught.value)


def test_map_stitch_resizes_bilinearly_first():
    layer = stitch_layer((2, 8, 8), (2, 4, 4))
    with torch.no_grad():
        layer.conv.weight.copy_(torch.eye(2).view(2, 2, 1, 1))
        layer.conv.bias.zero_()
    h = torch.rand(1, 2, 8, 8)
    expected = F.interpolate(h, size=(4, 4), mode="bilinear", align_corners=False)
    assert torch.allclose(layer(h), expected)
