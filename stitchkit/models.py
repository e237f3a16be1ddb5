"""The architectures a model can have, and how to build one from its spec.

Our CIFAR-style ResNets (3x3 stem, no max-pool) have hand-written stitching points: a
chain of 9 segments followed by a head (global average pool, linear). Stitching point k
(1-based, as in the paper's figures) is the output of segment k: 1 = the first conv
(conv-BN-ReLU stem); then the first and the last block of each of the 4 stages.
``forward_from(forward_to(x, k), k) == forward(x)`` for every k.

VGG16-BN (vgg.py, torchvision's) and ViT-Tiny/4 (vit.py, timm's) are cut at the
authors' stitching points by graph_split.GraphSplit; ``ARCHITECTURES`` holds every
architecture's builder and stitching-point table.
"""

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import torch
from torch import nn

from stitchkit.errors import UserError
from stitchkit.graph_split import GraphSplit

# name -> (blocks per stage, residual connections)
RESNETS = {
    "resnet18": ((2, 2, 2, 2), True),
    "resnet34": ((3, 4, 6, 3), True),
    "plain18": ((2, 2, 2, 2), False),
}
NUM_POINTS = 9  # of our ResNets


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

    def __post_init__(self):
        if self.arch not in ARCHITECTURES:
            raise UserError(
                f"unknown architecture {self.arch!r}; choose one of {sorted(ARCHITECTURES)}"
            )
        if self.width < 1 or self.num_classes < 2 or self.in_channels < 1:
            raise UserError(
                f"model spec needs width >= 1, num_classes >= 2, in_channels >= 1; got {self}"
            )
        ARCHITECTURES[self.arch].check(self.arch, self.width, self.depth)
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise UserError("normalisation mean/std need one value per input channel")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.image_size, self.image_size)

    def to_dict(self) -> dict:
        """The spec as plain data; without depth when it is the architecture's own, so
        that files of models without one are as before it existed."""
        d = {**asdict(self), "mean": list(self.mean), "std": list(self.std)}
        if self.depth is None:
            del d["depth"]
        return d

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
        blocks_per_stage, residual = RESNETS[spec.arch]
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


class SplitModel(GraphSplit):
    """A network built from its spec, normalising its inputs, cut at the stitching
    points of its architecture (graph_split.GraphSplit)."""

    def __init__(self, spec: ModelSpec, network: nn.Module, points: list[str]):
        super().__init__(network, points, spec.input_shape, Normalize(spec.mean, spec.std))
        self.spec = spec


@dataclass(frozen=True)
class Architecture:
    """How to build an architecture from a spec, how many stitching points a model of
    a given depth has, and what its spec must satisfy."""

    label: str  # for tables and figures
    build: Callable[[ModelSpec], nn.Module]
    num_points: Callable[[int | None], int]  # of a model of depth (None: its own)
    takes_depth: bool = False
    width_multiple: int = 1

    def check(self, name: str, width: int, depth: int | None) -> None:
        """Raise UserError unless this architecture (called ``name``) takes them."""
        if depth is not None and not self.takes_depth:
            raise UserError(f"{name} has a fixed depth; drop depth")
        if depth is not None and depth < 1:
            raise UserError(f"depth must be >= 1, got {depth}")
        if width % self.width_multiple:
            raise UserError(
                f"{name} needs a width that is a multiple of {self.width_multiple}, got {width}"
            )


# stitching points of the graph-split architectures (module paths), from the authors'
# models/model_utils.py: VGG16-BN's ReLUs after conv1_1, conv1_2, conv2_2, conv3_3,
# conv4_3 and conv5_3; every ViT block, then the pre-head features (the final norm's
# class token)
VGG16_BN_POINTS = [f"features.{i}" for i in (2, 5, 12, 22, 32, 42)]
VIT_TINY_DEPTH, VIT_TINY_HEADS = 12, 3


def vit_points(depth: int | None) -> list[str]:
    return [f"blocks.{i}" for i in range(depth or VIT_TINY_DEPTH)] + ["head_drop"]


def _vgg16_bn(spec: ModelSpec) -> SplitModel:
    from stitchkit.vgg import VGG  # torchvision's models: imported only to build one

    network = VGG(spec.width, spec.in_channels, spec.num_classes)
    return SplitModel(spec, network, VGG16_BN_POINTS)


def _vit_tiny(spec: ModelSpec) -> SplitModel:
    from stitchkit.vit import vision_transformer  # timm: imported only to build one

    depth = spec.depth or VIT_TINY_DEPTH
    network = vision_transformer(
        spec.width, depth, VIT_TINY_HEADS, spec.in_channels, spec.num_classes, spec.image_size
    )
    return SplitModel(spec, network, vit_points(depth))


ARCHITECTURES = {
    name: Architecture(label, StitchableResNet, lambda depth: NUM_POINTS)
    for name, label in (
        ("resnet18", "ResNet18"),
        ("resnet34", "ResNet34"),
        ("plain18", "ResNet18 (w/o residuals)"),
    )
} | {
    "vgg16_bn": Architecture("VGG16-BN", _vgg16_bn, lambda depth: len(VGG16_BN_POINTS)),
    "vit_tiny": Architecture(
        "ViT-Tiny/4",
        _vit_tiny,
        lambda depth: len(vit_points(depth)),
        takes_depth=True,
        width_multiple=VIT_TINY_HEADS,  # heads of equal size
    ),
}


def build_model(spec: ModelSpec) -> StitchableResNet | SplitModel:
    """A freshly initialised model of ``spec`` (seed torch first), in train mode."""
    return ARCHITECTURES[spec.arch].build(spec).train()
