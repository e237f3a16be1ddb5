"""The stitching layer T and its direct-matching (DM) initialisation by least squares."""

import torch
import torch.nn.functional as F
from torch import nn


class StitchLayer(nn.Module):
    """A 1x1 convolution with bias from the front's channels to the end's.

    When the front activation's spatial size differs from ``out_size`` (cross-layer
    stitching) it is first resized by bilinear interpolation.
    """

    def __init__(self, in_channels: int, out_channels: int, out_size: tuple[int, int]):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=True)
        self.out_size = tuple(out_size)

    def resize(self, h: torch.Tensor) -> torch.Tensor:
        if tuple(h.shape[-2:]) == self.out_size:
            return h
        return F.interpolate(h, size=self.out_size, mode="bilinear", align_corners=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.conv(self.resize(h))


@torch.no_grad()
def fit_direct_matching(layer: StitchLayer, front_acts: torch.Tensor, end_acts: torch.Tensor):
    """Set ``layer`` to the least-squares solution of T(front) ~ end; return the residual.

    Activations are flattened to (N*H*W, C) rows with a column of ones for the bias and
    solved in float64 with ``torch.linalg.lstsq``. The residual is
    ||X W - Y||_F / ||Y||_F on these samples.
    """
    x = layer.resize(front_acts).permute(0, 2, 3, 1).flatten(0, 2).double()
    y = end_acts.permute(0, 2, 3, 1).flatten(0, 2).double()
    x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype, device=x.device)], dim=1)
    solution = torch.linalg.lstsq(x.cpu(), y.cpu(), driver="gelsd").solution.to(x.device)
    residual = (x @ solution - y).norm() / y.norm().clamp_min(1e-12)
    weight, bias = solution[:-1].T, solution[-1]
    layer.conv.weight.copy_(weight.reshape(layer.conv.weight.shape))
    layer.conv.bias.copy_(bias)
    return float(residual)
