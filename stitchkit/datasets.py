"""Readers of the raw datasets, each returning a canonical PreparedDataset.

cifar10        torchvision's CIFAR10 (downloads when online, else reads raw_dir)
imagenet32-10  the official Downsampled ImageNet 32x32 pickles; classes drawn with a seed
fashion-mnist  Debian's dataset-fashion-mnist when installed, else torchvision's download;
               zero-padded from 28x28 to 32x32
digits         scikit-learn's bundled 8x8 digits, bilinearly resized to 32x32
"""

import gzip
import pickle
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import torch
import torchvision

from stitchkit.errors import UserError
from stitchkit.prepared import PreparedDataset

IMAGENET32_TRAIN_FILES = [f"train_data_batch_{i}" for i in range(1, 11)]
IMAGENET32_VAL_FILE = "val_data"
IMAGENET32_NUM_CLASSES = 1000
FASHION_MNIST_DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def _hwc_to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2)))


def _labels(values) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values), dtype=torch.int64)


def _torchvision_splits(dataset_class, raw_dir: str, fix: str) -> dict:
    """{True: train, False: test} torchvision datasets (downloaded only if absent)."""
    try:
        return {
            train: dataset_class(raw_dir, train=train, download=True) for train in (True, False)
        }
    except (urllib.error.URLError, OSError, RuntimeError) as exc:
        raise UserError(f"{fix} ({exc})") from exc


def prepare_cifar10(raw_dir: str) -> PreparedDataset:
    """CIFAR-10 via torchvision from ``raw_dir``/cifar-10-batches-py, downloading if absent."""
    fix = (
        f"CIFAR-10 is not under {raw_dir}/cifar-10-batches-py and could not be downloaded; "
        f"extract cifar-10-python.tar.gz into {raw_dir}/"
    )
    datasets = _torchvision_splits(torchvision.datasets.CIFAR10, raw_dir, fix)
    train, test = ((_hwc_to_tensor(d.data), _labels(d.targets)) for d in datasets.values())
    return PreparedDataset(
        *train, *test, class_names=list(datasets[True].classes), class_ids=list(range(10))
    )


def imagenet32_classes(num_classes: int, class_seed: int) -> list[int]:
    """The 1-based ImageNet32 label ids drawn for the subset, sorted."""
    if not 2 <= num_classes <= IMAGENET32_NUM_CLASSES:
        raise UserError(f"imagenet32 num_classes must be in 2..1000, got {num_classes}")
    g = torch.Generator().manual_seed(class_seed)
    ids = torch.randperm(IMAGENET32_NUM_CLASSES, generator=g)[:num_classes] + 1
    return sorted(ids.tolist())


def _read_imagenet32_file(path: Path, keep: dict[int, int]):
    with open(path, "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    labels = np.asarray(entry["labels"])
    mask = np.isin(labels, list(keep))
    images = entry["data"][mask].reshape(-1, 3, 32, 32)
    return torch.from_numpy(np.ascontiguousarray(images)), _labels(
        [keep[int(v)] for v in labels[mask]]
    )


def prepare_imagenet32(raw_dir: str, num_classes: int, class_seed: int) -> PreparedDataset:
    """``num_classes`` classes of Downsampled ImageNet 32x32 (Chrabaszcz et al. 2017).

    ``raw_dir`` holds the unzipped official files: train_data_batch_1..10 (from
    Imagenet32_train.zip) and val_data (from Imagenet32_val.zip); the val split is the
    test split. Names come from an optional map_clsloc.txt (wnid id name per line).
    """
    root = Path(raw_dir)
    missing = [f for f in [*IMAGENET32_TRAIN_FILES, IMAGENET32_VAL_FILE] if not (root / f).exists()]
    if missing:
        raise UserError(
            f"ImageNet32 files missing from {root}/: {', '.join(missing)}; download "
            "Imagenet32_train.zip and Imagenet32_val.zip (image-net.org, 'Downsampled "
            f"ImageNet 32x32') and unzip them into {root}/"
        )
    ids = imagenet32_classes(num_classes, class_seed)
    keep = {class_id: index for index, class_id in enumerate(ids)}
    train = [_read_imagenet32_file(root / f, keep) for f in IMAGENET32_TRAIN_FILES]
    test_images, test_labels = _read_imagenet32_file(root / IMAGENET32_VAL_FILE, keep)
    names = {i: f"imagenet_{i}" for i in ids}
    if (root / "map_clsloc.txt").exists():
        for line in (root / "map_clsloc.txt").read_text().splitlines():
            _wnid, index, name = line.split(maxsplit=2)
            if int(index) in names:
                names[int(index)] = name
    return PreparedDataset(
        torch.cat([t[0] for t in train]),
        torch.cat([t[1] for t in train]),
        test_images,
        test_labels,
        class_names=[names[i] for i in ids],
        class_ids=ids,
    )


def prepare_fashion_mnist(raw_dir: str, debian_dir: str = FASHION_MNIST_DEBIAN_DIR):
    """Fashion-MNIST via torchvision, seeded from Debian's package if installed; padded to 32."""
    torchvision_raw = Path(raw_dir) / "FashionMNIST" / "raw"
    if Path(debian_dir, FASHION_MNIST_FILES[0] + ".gz").exists():
        torchvision_raw.mkdir(parents=True, exist_ok=True)
        for name in FASHION_MNIST_FILES:
            if not (torchvision_raw / name).exists():
                source = Path(debian_dir, name + ".gz")
                with gzip.open(source) as src, open(torchvision_raw / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    fix = (
        "Fashion-MNIST not found and could not be downloaded; install it with "
        "`apt-get install dataset-fashion-mnist`"
    )
    datasets = _torchvision_splits(torchvision.datasets.FashionMNIST, raw_dir, fix)
    train, test = (
        (
            torch.nn.functional.pad(d.data, (2, 2, 2, 2)).unsqueeze(1).to(torch.uint8).contiguous(),
            d.targets.to(torch.int64),
        )
        for d in datasets.values()
    )
    return PreparedDataset(
        *train, *test, class_names=list(datasets[True].classes), class_ids=list(range(10))
    )


def prepare_digits(test_fraction: float, split_seed: int) -> PreparedDataset:
    """scikit-learn's 1797 8x8 digits, resized to 32x32, stratified train/test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise UserError(f"digits test_fraction must be in (0, 1), got {test_fraction}")
    digits = load_digits()
    small = torch.from_numpy(digits.images).float().unsqueeze(1) * (255 / 16)
    large = torch.nn.functional.interpolate(small, size=32, mode="bilinear", align_corners=False)
    images = large.round().clamp(0, 255).to(torch.uint8)
    labels = _labels(digits.target)
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=test_fraction, random_state=split_seed, stratify=labels
    )
    train_idx, test_idx = torch.from_numpy(train_idx), torch.from_numpy(test_idx)
    return PreparedDataset(
        images[train_idx],
        labels[train_idx],
        images[test_idx],
        labels[test_idx],
        class_names=[str(d) for d in range(10)],
        class_ids=list(range(10)),
    )


PREPARERS = {
    "cifar10": prepare_cifar10,
    "imagenet32-10": prepare_imagenet32,
    "fashion-mnist": prepare_fashion_mnist,
    "digits": prepare_digits,
}


def prepare(name: str, options: dict) -> PreparedDataset:
    """Run the reader for dataset ``name`` with its params.yaml ``options``."""
    if name not in PREPARERS:
        raise UserError(f"unknown dataset {name!r}; choose one of {sorted(PREPARERS)}")
    try:
        return PREPARERS[name](**options)
    except TypeError as exc:
        raise UserError(f"bad options for dataset {name!r} in params.yaml: {exc}") from exc
