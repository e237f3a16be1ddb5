"""A researcher's dataset, named by one string (SPEC), for `stitchkit compare`.

SPEC is a built-in dataset (``fashion-mnist``, ``cifar10``, ``digits``, ``ls-imagenet-10``;
read as the pipeline's `prepare` stage reads it, from ``data/raw`` by default), or
``imagefolder:PATH[,size=N]``: PATH/train/<class>/* and PATH/test/<class>/* (``val``
for ``test`` works too), one folder per class, in the same classes on both sides, read
as RGB; with ``size``, each image's shorter side is resized to N and its centre cropped
to N x N, else every image must already have one size.
"""

from pathlib import Path

import numpy as np
import torch

from stitchkit.common.errors import UserError
from stitchkit.data.datasets import PREPARERS, prepare
from stitchkit.data.prepared import PreparedDataset

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def named_data(spec: str) -> PreparedDataset:
    """The dataset that ``spec`` names (see the module's docstring)."""
    if spec in PREPARERS:
        return prepare(spec, None)
    kind, sep, rest = spec.partition(":")
    if kind != "imagefolder" or not sep:
        raise UserError(
            f"data {spec!r}: give a built-in dataset ({', '.join(sorted(PREPARERS))}) or "
            "imagefolder:PATH"
        )
    path, *options = rest.split(",")
    size = None
    for option in options:
        key, _, value = option.partition("=")
        if key != "size" or not value.isdigit() or int(value) < 1:
            raise UserError(f"data {spec!r}: {option!r} is not size=N (N pixels a side)")
        size = int(value)
    return _image_folder(Path(path), size, spec)


def _split_folder(root: Path, names: tuple[str, ...], spec: str) -> Path:
    for name in names:
        if (root / name).is_dir():
            return root / name
    raise UserError(f"data {spec!r}: no {' or '.join(names)} folder under {root}")


def _image_folder(root: Path, size: int | None, spec: str) -> PreparedDataset:
    if not root.is_dir():
        raise UserError(f"data {spec!r}: no folder {root}")
    train, test = _split_folder(root, ("train",), spec), _split_folder(root, ("test", "val"), spec)
    classes = sorted(p.name for p in train.iterdir() if p.is_dir())
    test_classes = sorted(p.name for p in test.iterdir() if p.is_dir())
    if not classes or classes != test_classes:
        raise UserError(
            f"data {spec!r}: {train} and {test} must hold the same class folders "
            f"(found {len(classes)} and {len(test_classes)})"
        )
    splits = [_read_split(folder, classes, size, spec) for folder in (train, test)]
    shapes = {tuple(images.shape[1:]) for images, _ in splits}
    if len(shapes) != 1:
        raise UserError(f"data {spec!r}: train and test images differ in size; give size=N")
    (train_images, train_labels), (test_images, test_labels) = splits
    return PreparedDataset(
        train_images, train_labels, test_images, test_labels, classes, list(range(len(classes)))
    )


def _read_split(folder: Path, classes: list[str], size: int | None, spec: str):
    from PIL import Image
    from torchvision.transforms import CenterCrop, Compose, Resize

    resize = Compose([Resize(size), CenterCrop(size)]) if size else None
    files = [
        (path, label)
        for label, name in enumerate(classes)
        for path in sorted((folder / name).iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise UserError(f"data {spec!r}: no images under {folder}")
    images = []
    for path, _ in files:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
            images.append(np.asarray(resize(rgb) if resize else rgb))
    if len({image.shape for image in images}) != 1:
        raise UserError(f"data {spec!r}: the images under {folder} differ in size; give size=N")
    pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return pixels, torch.tensor([label for _, label in files], dtype=torch.int64)
