"""SimCLR pre-training (v2's cross-supervision front), as in the authors' train_base.py.

The network's penultimate features (the classifier's input) feed a projection head,
Linear(d, 1024)-ReLU-Linear(1024, 128) (lightly's SimCLRProjectionHead without
BatchNorm), trained with NT-Xent (lightly's NTXentLoss) on two augmented views of each
image. The augmentations are the authors' (from dkobak/simclr-cifar10): horizontal
flip, random resized crop (area 0.2-1, aspect 3/4-4/3), colour jitter (0.4, 0.4, 0.4,
0.1) with p = 0.5 in random order, grayscale with p = 0.1. They run batched on the
device with torchvision's functional ops, random numbers from one seeded CPU generator
(as augment.py), so a seed fixes the views. training.py then fits the classifier on
the frozen features.
"""

import math

import torch
from pydantic import Field
from torch import nn

from stitchkit.common.schema import Float, PositiveInt, section

CROP_SCALE = (0.2, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)
JITTER = {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}
JITTER_P, GRAYSCALE_P = 0.5, 0.1


@section
class SimCLR:
    """`train.simclr`: ``epochs`` of SimCLR before the recipe's ``epochs`` of the linear
    classifier on frozen features (the authors: 200 and 200), NT-Xent at
    ``temperature``, a projection head of ``hidden_dim`` -> ``projection_dim``."""

    epochs: PositiveInt = 200
    temperature: Float = Field(default=0.5, gt=0)
    hidden_dim: PositiveInt = 1024
    projection_dim: PositiveInt = 128


def projection_head(features: int, simclr: SimCLR) -> nn.Module:
    from lightly.models.modules import SimCLRProjectionHead  # only SimCLR runs need it

    return SimCLRProjectionHead(
        features, simclr.hidden_dim, simclr.projection_dim, batch_norm=False
    )


def nt_xent(temperature: float) -> nn.Module:
    """loss(z1, z2): NT-Xent of paired projections (row i of each is one image)."""
    from lightly.loss import NTXentLoss

    return NTXentLoss(temperature=temperature)


def _crop_boxes(n: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 4) boxes (x1, y1, x2, y2) of area CROP_SCALE and aspect CROP_RATIO (log-uniform)
    placed uniformly inside the image; a side longer than the image is cut to it."""
    area = torch.empty(n).uniform_(*CROP_SCALE, generator=generator) * height * width
    log_ratio = torch.empty(n).uniform_(*map(math.log, CROP_RATIO), generator=generator)
    w = (area * log_ratio.exp()).sqrt().clamp(max=width)
    h = (area / log_ratio.exp()).sqrt().clamp(max=height)
    x1 = torch.rand(n, generator=generator) * (width - w)
    y1 = torch.rand(n, generator=generator) * (height - h)
    return torch.stack([x1, y1, x1 + w, y1 + h], dim=1)


def _color_distort(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One image: colour jitter (p = JITTER_P, factors and order random), then grayscale
    (p = GRAYSCALE_P). Saturation, hue and grayscale leave one-channel images as they are."""
    from torchvision.transforms.v2 import functional as TF  # imported only where used

    if torch.rand(1, generator=generator).item() < JITTER_P:
        order = torch.randperm(len(JITTER), generator=generator).tolist()
        factors = torch.rand(len(JITTER), generator=generator)
        names = list(JITTER)
        for i in order:
            name, strength = names[i], JITTER[names[i]]
            if name == "hue":
                factor = (2 * factors[i].item() - 1) * strength
            else:
                factor = 1 + (2 * factors[i].item() - 1) * strength
            image = getattr(TF, f"adjust_{name}")(image, factor)
    if torch.rand(1, generator=generator).item() < GRAYSCALE_P and image.shape[0] == 3:
        image = TF.rgb_to_grayscale(image, num_output_channels=3)
    return image


def simclr_view(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One augmented view of uint8 images (n, c, h, w): float32 in [0, 1]."""
    from torchvision.ops import roi_align

    n, _, height, width = images.shape
    flip = (torch.rand(n, generator=generator) < 0.5).to(images.device)
    x = torch.where(flip[:, None, None, None], images.flip(3), images).float().div_(255)
    boxes = _crop_boxes(n, height, width, generator).to(x.device)
    index = torch.arange(n, dtype=x.dtype, device=x.device)[:, None]
    x = roi_align(x, torch.cat([index, boxes], 1), (height, width), 1.0, 2, aligned=True)
    return torch.stack([_color_distort(image, generator) for image in x]).clamp_(0, 1)
