"""CIFAR-style ResNets (3x3 stem, no max-pool) with explicit stitching points.

A model is a chain of 9 segments followed by a head (global average pool, linear).
Stitching point k (1-based, as in the paper's figures) is the output of segment k:
1 = the first conv (conv-BN-ReLU stem); then the first and the last block of each
of the 4 stages. ``forward_from(forward_to(x, k), k) == forward(x)`` for every k.
"""

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch
from torch import nn

from stitchkit.errors import UserError

# name -> (blocks per stage, residual connections)
ARCHITECTURES = {
    "resnet18": ((2, 2, 2, 2), True),
    "resnet34": ((3, 4, 6, 3), True),
    "plain18": ((2, 2, 2, 2), False),
}
NUM_POINTS = 9


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a model; stored next to its weights."""

    arch: str
    num_classes: int
    in_channels: int
    width: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    image_size: int = 32

    def __post_init__(self):
        if self.arch not in ARCHITECTURES:
            raise UserError(
                f"unknown architecture {self.arch!r}; choose one of {sorted(ARCHITECTURES)}"
            )
        if self.width < 1 or self.num_classes < 2 or self.in_channels < 1:
            raise UserError(
                f"model spec needs width >= 1, num_classes >= 2, in_channels >= 1; got {self}"
            )
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise UserError("normalisation mean/std need one value per input channel")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.image_size, self.image_size)

    def to_dict(self) -> dict:
        return {**asdict(self), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> "ModelSpec":
        return cls(**{**d, "mean": tuple(d["mean"]), "std": tuple(d["std"])})


class Normalize(nn.Module):
    """Per-channel (x - mean) / std on inputs in [0, 1]; the model's first module."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers; the residual connection is optional ("plain" nets)."""

    def __init__(self, in_planes: int, planes: int, stride: int, residual: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.residual = residual
        self.shortcut = nn.Sequential()
        if residual and (stride != 1 or in_planes != planes):
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)
        return torch.relu(out)


class StitchableResNet(nn.Module):
    """ResNet whose front (to point k) and end (from point k) can run separately."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.spec = spec
        blocks_per_stage, residual = ARCHITECTURES[spec.arch]
        w = spec.width
        segments = [
            nn.Sequential(
                Normalize(spec.mean, spec.std),
                nn.Conv2d(spec.in_channels, w, 3, 1, 1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(),
            )
        ]
        in_planes = w
        for stage, n_blocks in enumerate(blocks_per_stage):
            planes = w * 2**stage
            stride = 1 if stage == 0 else 2
            blocks = [BasicBlock(in_planes, planes, stride, residual)]
            blocks += [BasicBlock(planes, planes, 1, residual) for _ in range(n_blocks - 1)]
            segments += [nn.Sequential(blocks[0]), nn.Sequential(*blocks[1:])]
            in_planes = planes
        self.segments = nn.ModuleList(segments)
        self.fc = nn.Linear(in_planes, spec.num_classes)

    num_points = NUM_POINTS

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.spec.input_shape

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    def check_point(self, k: int) -> None:
        if not 1 <= k <= self.num_points:
            raise UserError(f"stitching point {k} is out of range; use 1..{self.num_points}")

    def forward_to(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """Activation at stitching point k (the front f_{<=k})."""
        self.check_point(k)
        for segment in self.segments[:k]:
            x = segment(x)
        return x

    def activations(self, x: torch.Tensor, points) -> dict[int, torch.Tensor]:
        """Activations at each of ``points`` from one forward pass up to the deepest."""
        for k in points:
            self.check_point(k)
        wanted, out = set(points), {}
        for k, segment in enumerate(self.segments[: max(wanted)], start=1):
            x = segment(x)
            if k in wanted:
                out[k] = x
        return out

    def end_terms(self, h: torch.Tensor, k: int) -> Iterator[torch.Tensor]:
        """Lazily, from the activation ``h`` at point k: h, the activations at points
        k+1..9, then the logits. FuLA's hint terms are all but the logits:
        ``num_hint_terms(k)`` of them (as in the authors' code: no pooled features)."""
        self.check_point(k)
        yield h
        for segment in self.segments[k:]:
            h = segment(h)
            yield h
        yield self.fc(self.pool(h))

    def num_hint_terms(self, k: int) -> int:
        """The stitching points k..9."""
        return self.num_points - k + 1

    def features_from(self, h: torch.Tensor, k: int) -> torch.Tensor:
        """Penultimate pooled features from the activation at stitching point k."""
        self.check_point(k)
        for segment in self.segments[k:]:
            h = segment(h)
        return self.pool(h)

    def forward_from(self, h: torch.Tensor, k: int) -> torch.Tensor:
        """Logits from the activation at stitching point k (the end f_{>k})."""
        return self.fc(self.features_from(h, k))

    @staticmethod
    def pool(h: torch.Tensor) -> torch.Tensor:
        """Penultimate features: global average pool of the last stitching point."""
        return h.mean(dim=(2, 3))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate pooled features (input of the linear classifier)."""
        return self.pool(self.forward_to(x, self.num_points))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def build_model(spec: ModelSpec) -> StitchableResNet:
    return StitchableResNet(spec)
