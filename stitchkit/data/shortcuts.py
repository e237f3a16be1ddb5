"""Class-coded shortcuts (Sec. 3.2, Fig. 7/12), stamped on the fly after augmentation.

kind        what encodes the class                    where the marker goes
pattern     the marker's content (pixels or aruco)    a random location per image
location    the marker's place (uniform noise)        a fixed location per class
combination both: the class pattern                   at the class's fixed location

Markers follow the authors' code: "pixels" is a square of one colour per class, picked
by farthest-point sampling on a K x K x K RGB grid starting from black (one-channel
images: the grid's channel means); "aruco" is the inner 4x4 bit pattern of OpenCV's
DICT_4X4_100 markers, scaled by whole pixels to the marker size. The class order of
the markers is permuted with the setting's seed. Fixed locations are distinct cells of
the size-aligned grid drawn with the seed (ours: the authors' may overlap).

A shortcut dataset keeps the clean images and stores a `Shortcut`: the markers, the
locations and which training images carry a marker. `Shortcut.stamp` writes markers
into a batch after its augmentation, so a marker is never cropped, shifted or
mirrored. Test splits: "clean", "shortcut" (every image carries its class's marker)
and "rolled" (every image carries the marker of the previous class, c - 1).
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from stitchkit.common.errors import UserError
from stitchkit.common.schema import Float, Int, PositiveInt, Str, section
from stitchkit.data.prepared import PreparedDataset

KINDS = ("pattern", "location", "combination")
PATTERNS = ("pixels", "aruco")
EVALUATION_SPLITS = ("clean", "shortcut", "rolled")
ARUCO_BITS = 4
ARUCO_MARKERS = 100  # DICT_4X4_100


@section
class ShortcutSetting:
    """One shortcut setting of params.yaml `shortcuts:` (see the module docstring)."""

    source: Str
    kind: Literal[KINDS]
    pattern: Literal[PATTERNS] | None = None
    size: PositiveInt = 4
    fraction: Float = Field(default=1.0, ge=0, le=1)
    seed: Int = 0

    def __post_init__(self):
        if self.kind == "location" and self.pattern is not None:
            raise ValueError("shortcut kind 'location' draws uniform noise; remove `pattern`")
        if self.kind != "location" and self.pattern is None:
            raise ValueError(f"shortcut kind {self.kind!r} needs pattern: one of {list(PATTERNS)}")
        if self.pattern == "aruco" and self.size % ARUCO_BITS:
            raise ValueError(f"aruco markers need a size that is a multiple of 4, got {self.size}")

    @property
    def fixed_location(self) -> bool:
        return self.kind != "pattern"


def pixel_colors(num_classes: int, grey: bool) -> torch.Tensor:
    """(K, 3) colours in [0, 1] by farthest-point sampling on the K x K x K RGB grid,
    starting from black; ``grey`` samples the grid's channel means instead."""
    levels = torch.linspace(0, 1, num_classes)
    grid = torch.cartesian_prod(levels, levels, levels)
    if grey:
        grid = grid.mean(dim=1, keepdim=True).repeat(1, 3)
    chosen = grid[:1]
    for _ in range(1, num_classes):
        distance = torch.cdist(grid[None], chosen[None])[0].min(dim=1).values
        chosen = torch.cat([chosen, grid[distance.argmax()][None]])
    return chosen


def aruco_bits(num_classes: int) -> torch.Tensor:
    """(K, 4, 4) bool: the inner bits of OpenCV's DICT_4X4_100 markers 0..K-1."""
    import cv2

    if num_classes > ARUCO_MARKERS:
        raise UserError(f"aruco shortcuts support at most {ARUCO_MARKERS} classes")
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_100)
    bits = [
        cv2.aruco.Dictionary.getBitsFromByteList(dictionary.bytesList[c : c + 1], ARUCO_BITS)
        for c in range(num_classes)
    ]
    return torch.from_numpy(np.stack(bits)).bool()


def class_patterns(pattern: str, num_classes: int, channels: int, size: int) -> torch.Tensor:
    """(K, C, size, size) uint8 marker of each class, before the seeded permutation."""
    if pattern == "pixels":
        colors = (pixel_colors(num_classes, grey=channels == 1) * 255).round().to(torch.uint8)
        return colors[:, :channels, None, None].expand(-1, -1, size, size).contiguous()
    scale = size // ARUCO_BITS
    bits = aruco_bits(num_classes).repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    return (bits.to(torch.uint8) * 255)[:, None].expand(-1, channels, -1, -1).contiguous()


def class_locations(
    num_classes: int, height: int, width: int, size: int, generator: torch.Generator
) -> torch.Tensor:
    """(K, 2) top-left corners: K distinct cells of the size-aligned grid, drawn at random."""
    rows, cols = height // size, width // size
    if rows * cols < num_classes:
        raise UserError(
            f"{num_classes} classes need {num_classes} non-overlapping {size}x{size} cells, "
            f"but a {height}x{width} image has {rows * cols}; use a smaller shortcut size"
        )
    cells = torch.randperm(rows * cols, generator=generator)[:num_classes]
    return torch.stack([cells // cols * size, cells % cols * size], dim=1)


@dataclass
class Shortcut:
    """A shortcut setting made concrete for a dataset: ``markers`` (K, C, s, s) uint8 or
    None (uniform noise per image), ``locations`` (K, 2) or None (a random place per
    image), and ``train_mask``: which training images carry a marker."""

    markers: torch.Tensor | None
    locations: torch.Tensor | None
    size: int
    num_classes: int
    train_mask: torch.Tensor
    seed: int

    def state(self) -> dict:
        return dict(vars(self))

    def stamp(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        generator: torch.Generator,
        roll: int = 0,
        carry: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """A copy of uint8 ``images`` (N, C, H, W) where each image (of those ``carry``
        marks, default all) shows the marker of class (label - roll) mod K at that
        class's location. Random places and noise are drawn with ``generator`` for every
        image, carried or not, so the draws do not depend on ``carry``."""
        n, channels, height, width = images.shape
        s, device = self.size, images.device
        source = (labels.cpu() - roll) % self.num_classes
        if self.markers is None:
            shape = (n, channels, s, s)
            markers = torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)
        else:
            markers = self.markers[source]
        if self.locations is None:
            tops = torch.randint(0, height - s + 1, (n,), generator=generator)
            lefts = torch.randint(0, width - s + 1, (n,), generator=generator)
        else:
            tops, lefts = self.locations[source, 0], self.locations[source, 1]
        out = images.clone()
        rows = torch.arange(n) if carry is None else torch.nonzero(carry.cpu()).flatten()
        offsets = torch.arange(s)
        r = (tops[rows, None] + offsets)[:, :, None]
        c = (lefts[rows, None] + offsets)[:, None, :]
        index = rows[:, None, None]
        out.permute(0, 2, 3, 1)[index.to(device), r.to(device), c.to(device)] = (
            markers[rows].permute(0, 2, 3, 1).to(device)
        )
        return out


def make_shortcut(clean: PreparedDataset, setting: ShortcutSetting) -> Shortcut:
    """The markers, locations and training mask of ``setting`` on ``clean``'s images."""
    channels, height, width = clean.image_shape
    if setting.size > min(height, width):
        raise UserError(
            f"a {setting.size}x{setting.size} shortcut does not fit {height}x{width} images; "
            "use a smaller shortcut size"
        )
    k = clean.num_classes
    generator = torch.Generator().manual_seed(setting.seed)
    markers = None
    if setting.pattern is not None:
        markers = class_patterns(setting.pattern, k, channels, setting.size)
        markers = markers[torch.randperm(k, generator=generator)]
    locations = None
    if setting.fixed_location:
        locations = class_locations(k, height, width, setting.size, generator)
    n = len(clean.train_labels)
    carrying = torch.randperm(n, generator=generator)[: round(setting.fraction * n)]
    mask = torch.zeros(n, dtype=torch.bool)
    mask[carrying] = True
    return Shortcut(markers, locations, setting.size, k, mask, setting.seed)


def make_shortcut_dataset(clean: PreparedDataset, setting: ShortcutSetting) -> PreparedDataset:
    """``clean``'s images and labels with the shortcut of ``setting`` attached."""
    return clean.with_shortcut(make_shortcut(clean, setting).state())


def shortcut_of(data: PreparedDataset) -> Shortcut | None:
    return None if data.shortcut is None else Shortcut(**data.shortcut)


def evaluation_split(
    data: PreparedDataset, split: str = "clean"
) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, labels) of the ``clean`` test split, or of its copy with every image
    carrying its class's marker (``shortcut``) or the previous class's (``rolled``);
    the two stamped copies share their random places and noise (drawn with the seed)."""
    if split not in EVALUATION_SPLITS:
        raise UserError(f"unknown test split {split!r}; choose one of {list(EVALUATION_SPLITS)}")
    if split == "clean":
        return data.test_images, data.test_labels
    shortcut = shortcut_of(data)
    if shortcut is None:
        raise UserError(f"this dataset has no shortcut, so no {split!r} test split")
    generator = torch.Generator().manual_seed(shortcut.seed)
    roll = 1 if split == "rolled" else 0
    return shortcut.stamp(data.test_images, data.test_labels, generator, roll), data.test_labels
