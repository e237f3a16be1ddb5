"""Accuracy of any image classifier on uint8 images, in batches, in eval mode."""

from collections.abc import Callable

import torch

from stitchkit.data.augment import to_unit_float


@torch.no_grad()
def accuracy(
    predict: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int = 1000,
    device: torch.device | str = "cpu",
) -> float:
    """Share of ``images`` (uint8, N C H W) whose argmax of ``predict`` equals the label."""
    correct = 0
    for start in range(0, len(images), batch_size):
        x = to_unit_float(images[start : start + batch_size].to(device))
        y = labels[start : start + batch_size].to(device)
        correct += (predict(x).argmax(1) == y).sum().item()
    return correct / len(images)
