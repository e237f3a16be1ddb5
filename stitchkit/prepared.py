"""The canonical prepared dataset: one file of uint8 images, int64 labels, class names.

Layout (a dict saved with torch.save, loaded with weights_only=True):
train_images/test_images uint8 (N, C, H, W); train_labels/test_labels int64 (N,);
class_names list[str]; class_ids list[int] (ids in the source dataset).
"""

from dataclasses import dataclass
from pathlib import Path

import torch

from stitchkit.errors import UserError
from stitchkit.io import load_torch, save_torch

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

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_images.shape[1:])

    def channel_stats(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel mean and std of the training images scaled to [0, 1]."""
        x = self.train_images.double().div_(255).transpose(0, 1).flatten(1)
        return tuple(x.mean(1).tolist()), tuple(x.std(1).tolist())

    def save(self, path) -> None:
        save_torch(dict(vars(self)), path)

    @classmethod
    def load(cls, path, name: str = "") -> "PreparedDataset":
        stage = f"prepare@{name}" if name else "prepare"
        fix = f"run `dvc repro {stage}` (and list the dataset under `datasets:` in params.yaml)"
        content = load_torch(path, fix)
        try:
            return cls(**content)
        except (TypeError, ValueError) as exc:
            raise UserError(f"{path} is not a prepared dataset ({exc}); {fix}") from exc
