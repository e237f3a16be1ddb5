"""Readers of the raw datasets, each returning a canonical PreparedDataset, and the
typed options of each (params.yaml `datasets.<name>`).

cifar10         torchvision's CIFAR10 (downloads when online, else reads raw_dir)
ls-imagenet-10  ten ImageNet classes at 32x32 (the authors' WNIDs by default), from the
                official Downsampled ImageNet 32x32 pickles or from full ImageNet folders
fashion-mnist   Debian's dataset-fashion-mnist when installed, else torchvision's
                download; zero-padded from 28x28 to 32x32
digits          scikit-learn's bundled 8x8 digits, bilinearly resized to 32x32

torchvision is imported by the readers that use it: every stage validates dataset
options, and torchvision's import alone takes seconds.
"""

import gzip
import pickle
import shutil
import urllib.error
from dataclasses import asdict
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field
from tqdm import tqdm

from stitchkit.common.errors import UserError
from stitchkit.common.schema import Float, Int, PositiveInt, Str, section, validated
from stitchkit.data.prepared import PreparedDataset

IMAGENET32_TRAIN_FILES = [f"train_data_batch_{i}" for i in range(1, 11)]
IMAGENET32_VAL_FILE = "val_data"
IMAGENET_CLASS_MAP = "map_clsloc.txt"  # "wnid index name" per line; ImageNet32's labels
# the authors' LS-ImageNet-10 (their data/ls_imagenet10.txt)
AUTHORS_WNIDS = (
    "n03379051",
    "n03424325",
    "n04026417",
    "n02091831",
    "n01978455",
    "n02804414",
    "n02089973",
    "n07715103",
    "n02974003",
    "n04127249",
)
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


def _torchvision_splits(name: str, raw_dir: str, fix: str) -> dict:
    """{True: train, False: test} of torchvision dataset ``name`` (downloaded if absent)."""
    import torchvision

    dataset_class = getattr(torchvision.datasets, name)
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
    datasets = _torchvision_splits("CIFAR10", raw_dir, fix)
    train, test = ((_hwc_to_tensor(d.data), _labels(d.targets)) for d in datasets.values())
    return PreparedDataset(
        *train, *test, class_names=list(datasets[True].classes), class_ids=list(range(10))
    )


def read_class_map(root: Path) -> list[tuple[str, str]]:
    """(wnid, name) of the 1000 classes in the order of map_clsloc.txt (ImageNet32's
    label l is line l); a missing file is a UserError."""
    path = Path(root) / IMAGENET_CLASS_MAP
    if not path.exists():
        raise UserError(
            f"{path} is missing; it maps WNIDs to ImageNet32's labels (its line order). "
            "Copy map_clsloc.txt from the ILSVRC2012 devkit into "
            f"{root}/"
        )
    rows = [line.split(maxsplit=2) for line in path.read_text().splitlines() if line.strip()]
    return [(wnid, name) for wnid, _index, name in sorted(rows, key=lambda r: int(r[1]))]


def ls_imagenet_wnids(candidates: list[str], num_classes: int, class_seed: int) -> list[str]:
    """A seeded draw of ``num_classes`` WNIDs among ``candidates`` (in their order)."""
    if not 2 <= num_classes <= len(candidates):
        raise UserError(f"num_classes must be in 2..{len(candidates)}, got {num_classes}")
    g = torch.Generator().manual_seed(class_seed)
    return [candidates[i] for i in torch.randperm(len(candidates), generator=g)[:num_classes]]


def _read_imagenet32_file(path: Path, keep: dict[int, int]):
    with open(path, "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    labels = np.asarray(entry["labels"])
    mask = np.isin(labels, list(keep))
    images = entry["data"][mask].reshape(-1, 3, 32, 32)
    return torch.from_numpy(np.ascontiguousarray(images)), _labels(
        [keep[int(v)] for v in labels[mask]]
    )


def _imagenet32_splits(root: Path, wnids: list[str], class_map):
    """(train, test) (images, labels) of the ``wnids`` classes from ImageNet32's pickles."""
    missing = [f for f in [*IMAGENET32_TRAIN_FILES, IMAGENET32_VAL_FILE] if not (root / f).exists()]
    if missing:
        raise UserError(
            f"ImageNet32 files missing from {root}/: {', '.join(missing)}; download "
            "Imagenet32_train.zip and Imagenet32_val.zip (image-net.org, 'Downsampled "
            f"ImageNet 32x32') and unzip them into {root}/"
        )
    label_of = {wnid: index + 1 for index, (wnid, _) in enumerate(class_map)}
    keep = {label_of[w]: n for n, w in enumerate(wnids)}
    train = [_read_imagenet32_file(root / f, keep) for f in IMAGENET32_TRAIN_FILES]
    test = _read_imagenet32_file(root / IMAGENET32_VAL_FILE, keep)
    return (torch.cat([t[0] for t in train]), torch.cat([t[1] for t in train])), test


def _imagenet_folder_split(folder: Path, wnids: list[str]):
    """(images, labels) of folder/<wnid>/* resized as the authors do: the shorter side
    to 32 (bilinear), then a central 32x32 crop; RGB."""
    from PIL import Image
    from torchvision.transforms import CenterCrop, Compose, Resize

    resize = Compose([Resize(32), CenterCrop(32)])
    files = [(p, n) for n, w in enumerate(wnids) for p in sorted((folder / w).glob("*"))]
    images = []
    for path, _ in tqdm(files, desc=f"resize {folder.name}", unit="image"):
        with Image.open(path) as image:
            images.append(np.asarray(resize(image).convert("RGB")))
    return _hwc_to_tensor(np.stack(images)), _labels([n for _, n in files])


def _imagenet_folder_splits(root: Path, wnids: list[str]):
    missing = [f"{split}/{w}" for split in ("train", "val") for w in wnids]
    missing = [m for m in missing if not (root / m).is_dir()]
    if missing:
        raise UserError(
            f"ImageNet class folders missing under {root}/: {', '.join(missing[:3])}"
            f"{' ...' if len(missing) > 3 else ''}; put ImageNet's train/ and val/ there "
            "with one folder per WNID (val sorted into class folders)"
        )
    return _imagenet_folder_split(root / "train", wnids), _imagenet_folder_split(
        root / "val", wnids
    )


def prepare_ls_imagenet(
    raw_dir: str,
    source: str = "imagenet32",
    wnids: tuple[str, ...] | None = AUTHORS_WNIDS,
    class_seed: int | None = None,
    num_classes: int = 10,
) -> PreparedDataset:
    """LS-ImageNet: the ``wnids`` classes (or a ``class_seed`` draw of ``num_classes``)
    at 32x32, labelled in sorted-WNID order (the authors' ImageFolder order); the
    official validation split is the test split.

    ``source`` imagenet32: ``raw_dir`` holds the unzipped official Downsampled ImageNet
    32x32 files (train_data_batch_1..10, val_data) and map_clsloc.txt, which maps WNIDs
    to their labels. ``source`` imagenet: ``raw_dir`` holds ImageNet's train/ and val/
    with one folder per WNID, resized as the authors do (Resize 32, CenterCrop 32).
    """
    root = Path(raw_dir)
    class_map = read_class_map(root) if source == "imagenet32" else None
    if class_map is None and (root / IMAGENET_CLASS_MAP).exists():
        class_map = read_class_map(root)
    if wnids is None:
        candidates = (
            [w for w, _ in class_map]
            if class_map
            else sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
        )
        wnids = ls_imagenet_wnids(candidates, num_classes, class_seed)
    wnids = sorted(wnids)
    known = {w for w, _ in class_map} if class_map else None
    unknown = [w for w in wnids if known is not None and w not in known]
    if unknown:
        raise UserError(f"WNIDs {unknown} are not in {root / IMAGENET_CLASS_MAP}")
    if source == "imagenet32":
        train, test = _imagenet32_splits(root, wnids, class_map)
    else:
        train, test = _imagenet_folder_splits(root, wnids)
    names = dict(class_map) if class_map else {}
    return PreparedDataset(
        *train, *test, class_names=[names.get(w, w) for w in wnids], class_ids=wnids
    )


def prepare_fashion_mnist(
    raw_dir: str, debian_dir: str = FASHION_MNIST_DEBIAN_DIR
) -> PreparedDataset:
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
    datasets = _torchvision_splits("FashionMNIST", raw_dir, fix)
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


def prepare_digits(test_fraction: float = 0.25, split_seed: int = 0) -> PreparedDataset:
    """scikit-learn's 1797 8x8 digits, resized to 32x32, stratified train/test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

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


@section
class FolderOptions:
    """Where a downloadable dataset lives (or is downloaded to)."""

    raw_dir: Str = "data/raw"


@section
class DigitsOptions:
    test_fraction: Float = Field(default=0.25, gt=0, lt=1)
    split_seed: Int = 0


@section
class LSImageNetOptions:
    """``wnids`` (default: the authors' ten), or ``wnids: null`` with ``class_seed`` for a
    seeded draw of ``num_classes`` classes; ``source`` imagenet32 or imagenet."""

    raw_dir: Str = "data/raw/imagenet32"
    source: Literal["imagenet32", "imagenet"] = "imagenet32"
    wnids: tuple[Str, ...] | None = AUTHORS_WNIDS
    class_seed: Int | None = None
    num_classes: PositiveInt = 10

    def __post_init__(self):
        if (self.wnids is None) == (self.class_seed is None):
            raise ValueError(
                "give either wnids (a list of ImageNet WNIDs) or wnids: null with a "
                "class_seed (a seeded draw of num_classes classes)"
            )


# dataset name -> (its options, its reader)
PREPARERS = {
    "cifar10": (FolderOptions, prepare_cifar10),
    "ls-imagenet-10": (LSImageNetOptions, prepare_ls_imagenet),
    "fashion-mnist": (FolderOptions, prepare_fashion_mnist),
    "digits": (DigitsOptions, prepare_digits),
}


def dataset_options(
    name: str, options: dict | None
) -> FolderOptions | DigitsOptions | LSImageNetOptions:
    """The validated options of dataset ``name`` (a section of ``datasets:``)."""
    if name not in PREPARERS:
        raise UserError(f"datasets.{name}: unknown dataset; choose one of {sorted(PREPARERS)}")
    return validated(PREPARERS[name][0], options or {}, f"datasets.{name}")


def prepare(name: str, options: dict | None) -> PreparedDataset:
    """Run the reader for dataset ``name`` with its params.yaml ``options``."""
    settings = dataset_options(name, options)
    return PREPARERS[name][1](**asdict(settings))
