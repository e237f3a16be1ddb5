"""What the stitching engine needs of a model: numbered stitching points 1..num_points,
its front to a point and its end from one. graph_split.GraphSplit derives it for any
torch.fx-traceable model (every model of models.py); a model may also provide it by hand."""

from collections.abc import Iterable, Iterator
from typing import Protocol

import torch


class Stitchable(Protocol):
    input_shape: tuple[int, int, int]  # (channels, height, width) of images in [0, 1]
    num_classes: int
    num_points: int

    def check_point(self, k: int) -> None:
        """Raise UserError unless 1 <= k <= num_points."""

    def forward_to(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """The activation at point k (the front f_{<=k})."""

    def activations(self, x: torch.Tensor, points: Iterable[int]) -> dict[int, torch.Tensor]:
        """The activations at ``points`` from one pass up to the deepest."""

    def forward_from(self, h: torch.Tensor, k: int) -> torch.Tensor:
        """The logits from the activation at point k (the end g_{>k})."""

    def end_terms(self, h: torch.Tensor, k: int) -> Iterator[torch.Tensor]:
        """Lazily: h, the activations at points k+1..num_points, then the logits."""

    def num_hint_terms(self, k: int) -> int:
        """FuLA's hint terms from point k: the points k..num_points."""
