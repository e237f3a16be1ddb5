"""Batch augmentation on the device: random crop with zero padding and horizontal flip."""

import torch


def to_unit_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float32 in [0, 1]."""
    return images.float().div_(255)


def crop_and_flip(
    images: torch.Tensor, padding: int, hflip: bool, generator: torch.Generator
) -> torch.Tensor:
    """Randomly crop each image from its zero-padded copy and flip half of them.

    Random numbers come from the CPU ``generator`` whatever the device, so a seed
    gives the same augmentation on CPU and GPU.
    """
    n, _, h, w = images.shape
    device = images.device
    if padding > 0:
        padded = torch.nn.functional.pad(images, (padding,) * 4)
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(device)
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(device)
        rows = (dy[:, None] + torch.arange(h, device=device))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=device))[:, None, None, :]
        batch = torch.arange(n, device=device)[:, None, None, None]
        chans = torch.arange(images.shape[1], device=device)[None, :, None, None]
        images = padded[batch, chans, rows, cols]
    if hflip:
        flip = (torch.rand(n, generator=generator) < 0.5).to(device)
        images = torch.where(flip[:, None, None, None], images.flip(3), images)
    return images
