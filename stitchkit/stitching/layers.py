"""Stitching layers T between the three kinds of activations, and their direct-matching
(DM) initialisation by least squares.

Per sample, an activation is a feature map (C, H, W), a token sequence (T, D) or a
vector (D). `stitch_layer` picks T from the two shapes, after the authors' code
(models/stitch.py):

- map -> map: a 1x1 convolution, after bilinear resizing to the end's H x W;
- tokens -> tokens: a linear map of the embedding, shared by all tokens (equal counts);
- vector -> vector: a linear map;
- map or tokens -> another kind: a linear map across channels / tokens, then one across
  positions / embedding, then reshaped to the end's shape;
- vector -> map or tokens: one linear map onto the whole end activation.

The first three are linear in a per-position feature vector and have a least-squares DM
solution (`fit_direct_matching`); the others start from a seeded random initialisation,
as in the authors' code. Every map has biases.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from stitchkit.common.errors import UserError

KINDS = {3: "feature map", 2: "tokens", 1: "vector"}


def activation_kind(shape: tuple[int, ...]) -> str:
    """The kind of a per-sample activation shape: 'feature map', 'tokens' or 'vector'."""
    if len(shape) not in KINDS:
        raise UserError(
            f"an activation of shape {tuple(shape)} per sample is none of a feature map "
            "(C, H, W), tokens (T, D) or a vector (D); pick a stitching point with one of them"
        )
    return KINDS[len(shape)]


class StitchLayer(nn.Module):
    """T from activations of ``front_shape`` to ``end_shape`` (per sample). Subclasses
    with ``solvable`` have ``linear``, a map of one feature vector per row of
    ``rows(...)``, and DM sets it by least squares."""

    solvable = False

    def __init__(self, front_shape, end_shape):
        super().__init__()
        self.front_shape, self.end_shape = tuple(front_shape), tuple(end_shape)

    def align(self, h: torch.Tensor) -> torch.Tensor:
        """The front activation brought to the end's positions (identity but for maps)."""
        return h


class ConvStitch(StitchLayer):
    """Feature map -> feature map: resize, then a 1x1 convolution with bias."""

    solvable = True

    def __init__(self, front_shape, end_shape):
        super().__init__(front_shape, end_shape)
        self.conv = nn.Conv2d(front_shape[0], end_shape[0], kernel_size=1, bias=True)

    @property
    def linear(self) -> nn.Module:
        return self.conv

    def align(self, h: torch.Tensor) -> torch.Tensor:
        if tuple(h.shape[-2:]) == self.end_shape[1:]:
            return h
        return F.interpolate(h, size=self.end_shape[1:], mode="bilinear", align_corners=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.conv(self.align(h))


class FeatureStitch(StitchLayer):
    """Tokens -> tokens (one map of the embedding for every token) or vector -> vector."""

    solvable = True

    def __init__(self, front_shape, end_shape):
        super().__init__(front_shape, end_shape)
        if front_shape[:-1] != end_shape[:-1]:
            raise UserError(
                f"stitching {front_shape[0]} tokens into {end_shape[0]} tokens: a token "
                "stitch maps the embedding of each token, so both models need the same "
                "number of tokens; pick models with the same patching of the input"
            )
        self.linear = nn.Linear(front_shape[-1], end_shape[-1], bias=True)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(h)


def _matrix_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """(rows, columns) of an activation seen as a matrix: channels x positions for a
    map, tokens x embedding, 1 x features for a vector."""
    if len(shape) == 3:
        return shape[0], shape[1] * shape[2]
    if len(shape) == 2:
        return shape
    return 1, shape[0]


class AxisStitch(StitchLayer):
    """A feature map or tokens into another kind: with the activation as a matrix
    (channels x positions, tokens x embedding), a linear map of the rows (channels or
    tokens), then one of the columns (positions or embedding), then the end's shape."""

    def __init__(self, front_shape, end_shape):
        super().__init__(front_shape, end_shape)
        (rows_in, cols_in), (rows_out, cols_out) = map(_matrix_shape, (front_shape, end_shape))
        self.rows = nn.Linear(rows_in, rows_out, bias=True)
        self.columns = nn.Linear(cols_in, cols_out, bias=True)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        m = h.reshape(len(h), *_matrix_shape(self.front_shape))
        m = self.rows(m.transpose(1, 2)).transpose(1, 2)
        return self.columns(m).reshape(len(h), *self.end_shape)


class FromVectorStitch(StitchLayer):
    """A vector into a feature map or tokens: one linear map onto the whole activation."""

    def __init__(self, front_shape, end_shape):
        super().__init__(front_shape, end_shape)
        self.linear = nn.Linear(front_shape[0], math.prod(end_shape), bias=True)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(h).reshape(len(h), *self.end_shape)


def has_least_squares(front_shape: tuple[int, ...], end_shape: tuple[int, ...]) -> bool:
    """Whether DM has a least-squares solution between these shapes: one kind."""
    return activation_kind(front_shape) == activation_kind(end_shape)


def stitch_layer(front_shape: tuple[int, ...], end_shape: tuple[int, ...]) -> StitchLayer:
    """The stitching layer between per-sample activation shapes (module docstring)."""
    if has_least_squares(front_shape, end_shape):
        return (ConvStitch if len(front_shape) == 3 else FeatureStitch)(front_shape, end_shape)
    if activation_kind(front_shape) == "vector":
        return FromVectorStitch(front_shape, end_shape)
    return AxisStitch(front_shape, end_shape)


def _rows(h: torch.Tensor) -> torch.Tensor:
    """One feature vector per row: (N*H*W, C) for maps, (N*T, D) for tokens, (N, D)."""
    if h.dim() == 4:
        return h.permute(0, 2, 3, 1).flatten(0, 2)
    return h.flatten(0, -2)


@torch.no_grad()
def fit_direct_matching(
    layer: StitchLayer, front_acts: torch.Tensor, end_acts: torch.Tensor
) -> float:
    """Set a solvable ``layer`` to the least-squares solution of T(front) ~ end; return
    the residual.

    Activations are flattened to one row per position (per token) with a column of ones
    for the bias and solved in float64 with ``torch.linalg.lstsq``. The residual is
    ||X W - Y||_F / ||Y||_F on these samples.
    """
    if not layer.solvable:
        raise ValueError(f"{type(layer).__name__} has no least-squares solution")
    x = _rows(layer.align(front_acts)).double()
    y = _rows(end_acts).double()
    x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype, device=x.device)], dim=1)
    solution = torch.linalg.lstsq(x.cpu(), y.cpu(), driver="gelsd").solution.to(x.device)
    residual = (x @ solution - y).norm() / y.norm().clamp_min(1e-12)
    weight, bias = solution[:-1].T, solution[-1]
    layer.linear.weight.copy_(weight.reshape(layer.linear.weight.shape))
    layer.linear.bias.copy_(bias)
    return float(residual)
