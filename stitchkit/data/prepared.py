"""The canonical prepared dataset: one file of uint8 images, int64 labels, class names.

Layout (a dict saved with torch.save, loaded with weights_only=True):
train_images/test_images uint8 (N, C, H, W); train_labels/test_labels int64 (N,);
class_names list[str]; class_ids list[int] (ids in the source dataset);
shortcut: a dict or None: the class-coded shortcut that training batches and the
shortcut test splits get stamped with (shortcut datasets only; see shortcuts.py).
"""

from dataclasses import dataclass
from pathlib import Path

import torch

from stitchkit.common.errors import UserError
from stitchkit.common.io import load_torch, save_torch

PREPARED_DIR = Path("data/prepared")


def prepared_path(name: str, root: Path = PREPARED_DIR) -> Path:
    return Path(root) / f"{name}.pt"


@dataclass
class PreparedDataset:
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    class_names: list[str]
    class_ids: list[int]
    shortcut: dict | None = None

    def __post_init__(self):
        for split in ("train", "test"):
            images, labels = getattr(self, f"{split}_images"), getattr(self, f"{split}_labels")
            if images.dtype != torch.uint8 or images.dim() != 4:
                raise ValueError(f"{split}_images must be uint8 (N, C, H, W)")
            if labels.dtype != torch.int64 or labels.shape != images.shape[:1]:
                raise ValueError(f"{split}_labels must be int64 with one label per image")
            if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < self.num_classes:
                raise ValueError(f"{split}_labels must lie in 0..{self.num_classes - 1}")
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise ValueError("train and test images must have the same shape")
        if len(self.class_ids) != len(self.class_names):
            raise ValueError("class_ids and class_names must have the same length")
        mask = None if self.shortcut is None else self.shortcut.get("train_mask")
        if self.shortcut is not None and (mask is None or mask.shape != self.train_labels.shape):
            raise ValueError("a shortcut needs a train_mask with one entry per training image")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_images.shape[1:])

    def with_shortcut(self, shortcut: dict) -> "PreparedDataset":
        """The same images with ``shortcut`` (a shortcuts.Shortcut's state) attached."""
        return PreparedDataset(
            self.train_images,
            self.train_labels,
            self.test_images,
            self.test_labels,
            list(self.class_names),
            list(self.class_ids),
            shortcut,
        )

    def first_classes(self, k: int) -> "PreparedDataset":
        """The dataset with its training split restricted to labels 0..k-1 ("CIFAR-k");
        the test splits keep every class."""
        if not isinstance(k, int) or not 1 <= k <= self.num_classes:
            raise UserError(f"number of classes must be in 1..{self.num_classes}, got {k!r}")
        keep = self.train_labels < k
        shortcut = self.shortcut
        if shortcut is not None:
            shortcut = {**shortcut, "train_mask": shortcut["train_mask"][keep]}
        return PreparedDataset(
            self.train_images[keep],
            self.train_labels[keep],
            self.test_images,
            self.test_labels,
            self.class_names,
            self.class_ids,
            shortcut,
        )

    def channel_stats(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel mean and std of the training images scaled to [0, 1]."""
        x = self.train_images.double().div_(255).transpose(0, 1).flatten(1)
        return tuple(x.mean(1).tolist()), tuple(x.std(1).tolist())

    def save(self, path: Path | str) -> None:
        save_torch(dict(vars(self)), path)

    @classmethod
    def load(cls, path: Path | str, stage: str = "prepare") -> "PreparedDataset":
        """Load a prepared dataset; ``stage`` (e.g. prepare@digits) is the DVC stage that
        writes it, named in the error when the file is missing or damaged."""
        fix = f"run `dvc repro {stage}` (and list the dataset in params.yaml)"
        content = load_torch(path, fix)
        try:
            return cls(**content)
        except (TypeError, ValueError) as exc:
            raise UserError(f"{path} is not a prepared dataset ({exc}); {fix}") from exc
