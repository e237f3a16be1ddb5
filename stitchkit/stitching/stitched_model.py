"""A fitted stitch as one module, h = g_{>j} . T . f_{<=i}, for attacks and features."""

import torch
from torch import nn

from stitchkit.models.stitchable import Stitchable
from stitchkit.stitching import bn_state
from stitchkit.stitching.layers import StitchLayer


class StitchedModel(nn.Module):
    """Front to point i, the stitching layer, end from point j. The end's (front's)
    BatchNorm reads the stitch's own statistics ``end_bn`` (``front_bn``) when given.
    Inputs are images in [0, 1]."""

    def __init__(
        self,
        front: Stitchable,
        layer: StitchLayer,
        end: Stitchable,
        front_point: int,
        end_point: int,
        end_bn: dict | None = None,
        front_bn: dict | None = None,
    ):
        super().__init__()
        self.front, self.layer, self.end = front, layer, end
        self.front_point, self.end_point = front_point, end_point
        self.end_bn, self.front_bn = end_bn, front_bn

    def _stitched(self, x: torch.Tensor) -> torch.Tensor:
        """T applied to the front's activation at point i."""
        with bn_state.swapped(self.front, self.front_bn):
            return self.layer(self.front.forward_to(x, self.front_point))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The end model's penultimate pooled features on the stitched path (our ResNets)."""
        z = self._stitched(x)
        with bn_state.swapped(self.end, self.end_bn):
            return self.end.features_from(z, self.end_point)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self._stitched(x)
        with bn_state.swapped(self.end, self.end_bn):
            return self.end.forward_from(z, self.end_point)
