"""A researcher's model made stitchable on a dataset's images.

A stitchkit model already is (numbered points, its own input). Any other model is cut
by GraphSplit at its points (named, or found by stitchkit.models.points) and fed the
dataset's images in [0, 1] as they are but for their channels: grey images are repeated
into a model's three channels, colour images averaged into a model's one. Images keep
their size: a model that cannot take it fails with one line (resize the dataset, e.g.
``imagefolder:PATH,size=224``).
"""

from collections.abc import Sequence

import torch
from torch import nn

from stitchkit.common.errors import UserError
from stitchkit.models.graph_split import GraphSplit
from stitchkit.models.model_spec import NamedModel
from stitchkit.models.points import candidate_points


class ChannelAdapter(nn.Module):
    """Images of ``channels_in`` channels as the ``channels_out`` a model takes."""

    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        if channels_in != channels_out and 1 not in (channels_in, channels_out):
            raise UserError(
                f"images of {channels_in} channels cannot feed a model of {channels_out}"
            )
        self.channels_in, self.channels_out = channels_in, channels_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_in == self.channels_out:
            return x
        if self.channels_in == 1:
            return x.expand(-1, self.channels_out, -1, -1)
        return x.mean(1, keepdim=True)

    def extra_repr(self) -> str:
        return f"{self.channels_in} -> {self.channels_out}"


def stitchable(
    named: NamedModel, image_shape: Sequence[int], points: Sequence[str] | None = None
) -> nn.Module:
    """``named`` as a Stitchable on images of ``image_shape`` (channels, height, width):
    a stitchkit model as it is (its input must be ``image_shape``), any other cut at
    ``points`` (None: the candidate points found in it)."""
    image_shape = tuple(image_shape)
    if named.stitchkit:
        if tuple(named.input_shape) != image_shape:
            raise UserError(
                f"the model takes images of shape {named.input_shape}, the data has {image_shape}"
            )
        return named.model
    adapter = ChannelAdapter(image_shape[0], named.input_shape[0])
    if points is None:
        model_shape = (named.input_shape[0], *image_shape[1:])
        points = [p.name for p in candidate_points(named.model, model_shape)]
        if not points:
            raise UserError(f"no stitching point found in {type(named.model).__name__}")
    return GraphSplit(named.model, list(points), image_shape, preprocess=adapter)
