"""The architectures a model can have, and how to build one from its spec.

Every model is a network cut at its architecture's stitching points by
graph_split.GraphSplit (``SplitModel``), with the input normalisation in front.
``ARCHITECTURES`` holds each architecture's builder and stitching-point table (module
paths):
- our CIFAR-style ResNets (3x3 stem, no max-pool): a chain of 9 segments, then global
  average pooling and a linear classifier; point k (1-based, as in the paper's figures)
  is the output of segment k: 1 = the conv-BN-ReLU stem, then the first and the last
  block of each of the 4 stages;
- VGG16-BN (vgg.py, torchvision's) and ViT-Tiny (vit.py, timm's; 4x4 patches unless the
  spec gives another size) at the authors' stitching points.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from stitchkit.common.errors import UserError
from stitchkit.models.graph_split import GraphSplit
from stitchkit.models.strided_pointwise import StridedPointwise

# name -> (blocks per stage, residual connections)
RESNETS = {
    "resnet18": ((2, 2, 2, 2), True),
    "resnet34": ((3, 4, 6, 3), True),
    "plain18": ((2, 2, 2, 2), False),
}
RESNET_POINTS = [f"segments.{i}" for i in range(9)]


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
    depth: int | None = None  # blocks of a ViT (None: the architecture's own)
    patch: int | None = None  # a ViT's patch size (None: the architecture's own)

    def __post_init__(self):
        if self.arch not in ARCHITECTURES:
            raise UserError(
                f"unknown architecture {self.arch!r}; choose one of {sorted(ARCHITECTURES)}"
            )
        if self.width < 1 or self.num_classes < 2 or self.in_channels < 1:
            raise UserError(
                f"model spec needs width >= 1, num_classes >= 2, in_channels >= 1; got {self}"
            )
        ARCHITECTURES[self.arch].check(self.arch, self.width, self.depth, self.patch)
        if self.patch is not None and self.image_size % self.patch:
            raise UserError(
                f"patch size {self.patch} does not divide the {self.image_size}-pixel images; "
                "give a divisor of it"
            )
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise UserError("normalisation mean/std need one value per input channel")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.image_size, self.image_size)

    def to_dict(self) -> dict:
        """The spec as plain data; without depth or patch when it is the architecture's
        own, so that files of models without one are as before it existed."""
        d = {**asdict(self), "mean": list(self.mean), "std": list(self.std)}
        return {k: v for k, v in d.items() if v is not None or k not in ("depth", "patch")}

    @classmethod
    def from_dict(cls, d: dict) -> "ModelSpec":
        return cls(**{**d, "mean": tuple(d["mean"]), "std": tuple(d["std"])})


class Normalize(nn.Module):
    """Per-channel (x - mean) / std on inputs in [0, 1]; the model's first module."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
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
                StridedPointwise(in_planes, planes, stride), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)
        return torch.relu(out)


class ResNet(nn.Module):
    """CIFAR-style ResNet: a chain of 9 segments (``segments.0`` .. ``segments.8``, the
    stitching points), then global average pooling and the classifier ``fc``. Inputs
    are normalised images."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        blocks_per_stage, residual = RESNETS[spec.arch]
        w = spec.width
        segments = [
            nn.Sequential(
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for segment in self.segments:
            x = segment(x)
        return self.fc(x.mean(dim=(2, 3)))


class SplitModel(GraphSplit):
    """A network built from its spec, normalising its inputs, cut at the stitching
    points of its architecture (graph_split.GraphSplit)."""

    def __init__(self, spec: ModelSpec, network: nn.Module, points: list[str], classifier: str):
        super().__init__(
            network, points, spec.input_shape, Normalize(spec.mean, spec.std), classifier
        )
        self.spec = spec


@dataclass(frozen=True)
class Architecture:
    """How to build an architecture from a spec, how many stitching points a model of
    a given depth has, and what its spec must satisfy."""

    label: str  # for tables and figures
    build: Callable[[ModelSpec], nn.Module]
    num_points: Callable[[int | None], int]  # of a model of depth (None: its own)
    takes_depth: bool = False  # and a patch size: a ViT
    width_multiple: int = 1

    def check(self, name: str, width: int, depth: int | None, patch: int | None = None) -> None:
        """Raise UserError unless this architecture (called ``name``) takes them."""
        for key, value in (("depth", depth), ("patch", patch)):
            if value is not None and not self.takes_depth:
                raise UserError(f"{name} has a fixed {key}; drop {key}")
            if value is not None and value < 1:
                raise UserError(f"{key} must be >= 1, got {value}")
        if width % self.width_multiple:
            raise UserError(
                f"{name} needs a width that is a multiple of {self.width_multiple}, got {width}"
            )


# stitching points of the graph-split architectures (module paths), from the authors'
# models/model_utils.py: VGG16-BN's ReLUs after conv1_1, conv1_2, conv2_2, conv3_3,
# conv4_3 and conv5_3; every ViT block, then the pre-head features (the final norm's
# class token)
VGG16_BN_POINTS = [f"features.{i}" for i in (2, 5, 12, 22, 32, 42)]
VIT_TINY_DEPTH, VIT_TINY_HEADS, VIT_TINY_PATCH = 12, 3, 4


def vit_points(depth: int | None) -> list[str]:
    return [f"blocks.{i}" for i in range(depth or VIT_TINY_DEPTH)] + ["head_drop"]


def _vgg16_bn(spec: ModelSpec) -> SplitModel:
    from stitchkit.models.vgg import VGG  # torchvision's models: imported only to build one

    network = VGG(spec.width, spec.in_channels, spec.num_classes)
    return SplitModel(spec, network, VGG16_BN_POINTS, "classifier.6")


def _vit_tiny(spec: ModelSpec) -> SplitModel:
    from stitchkit.models.vit import vision_transformer  # timm: imported only to build one

    depth = spec.depth or VIT_TINY_DEPTH
    network = vision_transformer(
        spec.width,
        depth,
        VIT_TINY_HEADS,
        spec.patch or VIT_TINY_PATCH,
        spec.in_channels,
        spec.num_classes,
        spec.image_size,
    )
    return SplitModel(spec, network, vit_points(depth), "head")


def _resnet(spec: ModelSpec) -> SplitModel:
    return SplitModel(spec, ResNet(spec), RESNET_POINTS, "fc")


ARCHITECTURES = {
    name: Architecture(label, _resnet, lambda depth: len(RESNET_POINTS))
    for name, label in (
        ("resnet18", "ResNet18"),
        ("resnet34", "ResNet34"),
        ("plain18", "ResNet18 (w/o residuals)"),
    )
} | {
    "vgg16_bn": Architecture("VGG16-BN", _vgg16_bn, lambda depth: len(VGG16_BN_POINTS)),
    "vit_tiny": Architecture(
        "ViT-Tiny",
        _vit_tiny,
        lambda depth: len(vit_points(depth)),
        takes_depth=True,
        width_multiple=VIT_TINY_HEADS,  # heads of equal size
    ),
}


def build_model(spec: ModelSpec) -> SplitModel:
    """A freshly initialised model of ``spec`` (seed torch first), in train mode."""
    return ARCHITECTURES[spec.arch].build(spec).train()
