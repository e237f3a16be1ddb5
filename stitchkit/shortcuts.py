"""Class-coded shortcuts (Sec. 3.2, Fig. 7/12): a size x size marker stamped into images.

kind        what encodes the class                    where the marker goes
pattern     the marker's content (pixels or aruco)    a random location per image
location    the marker's place (uniform noise)        a fixed location per class
combination both: the class pattern                   at the class's fixed location

"pixels" is a square of one colour per class (grey levels on 1-channel images);
"aruco" is the 4x4 bit pattern of OpenCV's DICT_4X4_50 marker with the class's index,
scaled to the marker size. Fixed locations are distinct cells of a size-aligned grid,
drawn with the seed, so no two classes overlap.
"""

import colorsys
from dataclasses import dataclass

import numpy as np
import torch

from stitchkit.errors import UserError
from stitchkit.prepared import PreparedDataset

KINDS = ("pattern", "location", "combination")
PATTERNS = ("pixels", "aruco")
ARUCO_BITS = 4
ARUCO_MARKERS = 50  # DICT_4X4_50
DARKEST_GREY = 40  # "pixels" grey levels run from 255 down to this, away from black backgrounds


@dataclass(frozen=True)
class ShortcutSetting:
    """One shortcut setting of params.yaml `shortcuts:` (see the module docstring)."""

    source: str
    kind: str
    pattern: str | None = None
    size: int = 4
    fraction: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise UserError(f"unknown shortcut kind {self.kind!r}; choose one of {list(KINDS)}")
        if self.kind == "location" and self.pattern is not None:
            raise UserError("shortcut kind 'location' draws uniform noise; remove `pattern`")
        if self.kind != "location" and self.pattern not in PATTERNS:
            raise UserError(
                f"shortcut kind {self.kind!r} needs pattern: one of {list(PATTERNS)}, "
                f"got {self.pattern!r}"
            )
        if not isinstance(self.size, int) or self.size < 1:
            raise UserError(f"shortcut size must be a positive integer, got {self.size!r}")
        if self.pattern == "aruco" and self.size % ARUCO_BITS:
            raise UserError(f"aruco markers need a size that is a multiple of 4, got {self.size}")
        if not isinstance(self.fraction, int | float) or not 0 <= self.fraction <= 1:
            raise UserError(f"shortcut fraction must be in [0, 1], got {self.fraction!r}")

    @property
    def fixed_location(self) -> bool:
        return self.kind != "pattern"


def pixel_colors(num_classes: int, channels: int) -> torch.Tensor:
    """(K, C) uint8 colours, distinct per class: evenly spaced hues, or grey levels."""
    if channels == 3:
        rgb = [colorsys.hsv_to_rgb(c / num_classes, 1.0, 1.0) for c in range(num_classes)]
        return (torch.tensor(rgb) * 255).round().to(torch.uint8)
    levels = torch.linspace(255, DARKEST_GREY, num_classes).round().to(torch.uint8)
    return levels[:, None].expand(num_classes, channels).contiguous()


def aruco_bits(num_classes: int) -> torch.Tensor:
    """(K, 4, 4) bool: the bits of OpenCV's DICT_4X4_50 markers 0..K-1."""
    import cv2

    if num_classes > ARUCO_MARKERS:
        raise UserError(f"aruco shortcuts support at most {ARUCO_MARKERS} classes")
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)
    bits = [
        cv2.aruco.Dictionary.getBitsFromByteList(dictionary.bytesList[c : c + 1], ARUCO_BITS)
        for c in range(num_classes)
    ]
    return torch.from_numpy(np.stack(bits)).bool()


def class_patterns(pattern: str, num_classes: int, channels: int, size: int) -> torch.Tensor:
    """(K, C, size, size) uint8 marker of each class."""
    if pattern == "pixels":
        colors = pixel_colors(num_classes, channels)
        return colors[:, :, None, None].expand(-1, -1, size, size).contiguous()
    scale = size // ARUCO_BITS
    bits = aruco_bits(num_classes).repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    return (bits.to(torch.uint8) * 255)[:, None].expand(-1, channels, -1, -1).contiguous()


def class_locations(num_classes: int, height: int, width: int, size: int, generator):
    """(K, 2) top-left corners: K distinct cells of the size-aligned grid, drawn at random."""
    rows, cols = height // size, width // size
    if rows * cols < num_classes:
        raise UserError(
            f"{num_classes} classes need {num_classes} non-overlapping {size}x{size} cells, "
            f"but a {height}x{width} image has {rows * cols}; use a smaller shortcut size"
        )
    cells = torch.randperm(rows * cols, generator=generator)[:num_classes]
    return torch.stack([cells // cols * size, cells % cols * size], dim=1)


def stamp(images: torch.Tensor, markers: torch.Tensor, tops, lefts) -> None:
    """Write markers (N, C, s, s) into images (N, C, H, W) at (tops, lefts), in place."""
    size = markers.shape[-1]
    offsets = torch.arange(size)
    rows = (tops[:, None] + offsets)[:, :, None]
    cols = (lefts[:, None] + offsets)[:, None, :]
    index = torch.arange(len(images))[:, None, None]
    images.permute(0, 2, 3, 1)[index, rows, cols] = markers.permute(0, 2, 3, 1)


def add_shortcuts(images, labels, num_classes, setting, locations, generator, fraction):
    """A copy of ``images`` in which a seeded ``fraction`` carry their class's shortcut;
    ``locations`` are the classes' fixed places (None for kind "pattern")."""
    out = images.clone()
    channels = images.shape[1]
    height, width, size = images.shape[2], images.shape[3], setting.size
    chosen = torch.randperm(len(labels), generator=generator)[: round(fraction * len(labels))]
    chosen = chosen.sort().values
    y = labels[chosen]
    if setting.pattern is None:
        markers = torch.randint(
            0, 256, (len(y), channels, size, size), generator=generator, dtype=torch.uint8
        )
    else:
        markers = class_patterns(setting.pattern, num_classes, channels, size)[y]
    if setting.fixed_location:
        tops, lefts = locations[y, 0], locations[y, 1]
    else:
        tops = torch.randint(0, height - size + 1, (len(y),), generator=generator)
        lefts = torch.randint(0, width - size + 1, (len(y),), generator=generator)
    patched = out[chosen]
    stamp(patched, markers, tops, lefts)
    out[chosen] = patched
    return out


def make_shortcut_dataset(clean: PreparedDataset, setting: ShortcutSetting) -> PreparedDataset:
    """``clean`` with shortcuts in a ``fraction`` of the training images; the clean test
    split is kept and a copy of it with a shortcut in every image is added."""
    channels, height, width = clean.image_shape
    if setting.size > min(height, width):
        raise UserError(
            f"a {setting.size}x{setting.size} shortcut does not fit {height}x{width} images; "
            "use a smaller shortcut size"
        )
    generator = torch.Generator().manual_seed(setting.seed)
    locations = None
    if setting.fixed_location:
        locations = class_locations(clean.num_classes, height, width, setting.size, generator)
    train, test = (
        add_shortcuts(images, labels, clean.num_classes, setting, locations, generator, fraction)
        for images, labels, fraction in (
            (clean.train_images, clean.train_labels, setting.fraction),
            (clean.test_images, clean.test_labels, 1.0),
        )
    )
    return PreparedDataset(
        train,
        clean.train_labels.clone(),
        clean.test_images.clone(),
        clean.test_labels.clone(),
        class_names=list(clean.class_names),
        class_ids=list(clean.class_ids),
        shortcut_test_images=test,
    )
