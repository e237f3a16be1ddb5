"""Dataset readers on small fixtures written in the real on-disk formats."""

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch
import torchvision

from stitchkit.datasets import (
    FASHION_MNIST_FILES,
    IMAGENET32_TRAIN_FILES,
    imagenet32_classes,
    prepare,
    prepare_cifar10,
    prepare_digits,
    prepare_fashion_mnist,
    prepare_imagenet32,
)
from stitchkit.errors import UserError
from stitchkit.prepared import PreparedDataset

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer"] + [
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def _rows(rng, n):
    return rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)


def write_cifar10(root, per_batch=6):
    """cifar-10-batches-py: pickled dicts with 'data' (N, 3072 as RRR..GGG..BBB) and 'labels'."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        entry = {"data": _rows(rng, per_batch), "labels": list(rng.integers(0, 10, per_batch))}
        (folder / name).write_bytes(pickle.dumps(entry))
        batches[name] = entry
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": CIFAR_CLASSES}))
    return batches


def test_cifar10_reads_torchvision_format(tmp_path, monkeypatch):
    # The fixture cannot match the real archive's md5 sums; everything else is torchvision's.
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda path, md5=None: True)
    batches = write_cifar10(tmp_path)
    data = prepare_cifar10(str(tmp_path))
    assert data.train_images.shape == (30, 3, 32, 32) and data.test_images.shape == (6, 3, 32, 32)
    first = batches["data_batch_1"]["data"][0].reshape(3, 32, 32)
    assert np.array_equal(data.train_images[0].numpy(), first)
    assert data.test_labels.tolist() == [int(v) for v in batches["test_batch"]["labels"]]
    assert data.class_names == CIFAR_CLASSES


def test_cifar10_missing_offline_names_the_folder(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", offline)
    with pytest.raises(UserError, match="extract cifar-10-python.tar.gz into"):
        prepare_cifar10(str(tmp_path))


def write_imagenet32(root, classes, extra_class=999, per_class=2):
    """Official Downsampled ImageNet pickles: 'data' (N, 3072), 1-based 'labels'."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    labels = [c for c in [*classes, extra_class] for _ in range(per_class)]
    files = {}
    for name in [*IMAGENET32_TRAIN_FILES, "val_data"]:
        entry = {"data": _rows(rng, len(labels)), "labels": labels, "mean": np.zeros(3072)}
        (root / name).write_bytes(pickle.dumps(entry))
        files[name] = entry
    return files


def test_imagenet32_keeps_the_seeded_classes_and_relabels_them(tmp_path):
    ids = imagenet32_classes(10, 0)
    assert ids == imagenet32_classes(10, 0) and ids != imagenet32_classes(10, 1)
    assert len(set(ids)) == 10 and all(1 <= i <= 1000 for i in ids)
    extra = next(i for i in range(1, 1001) if i not in ids)
    files = write_imagenet32(tmp_path / "imagenet32", ids, extra)
    (tmp_path / "imagenet32/map_clsloc.txt").write_text(f"n0001 {ids[0]} kit_fox\n")
    data = prepare_imagenet32(str(tmp_path / "imagenet32"), 10, 0)
    assert data.class_ids == ids
    assert data.class_names[0] == "kit_fox" and data.class_names[1] == f"imagenet_{ids[1]}"
    assert len(data.train_labels) == 10 * 2 * 10 and len(data.test_labels) == 20
    assert data.test_labels.tolist() == [i for i in range(10) for _ in range(2)]
    raw = files["train_data_batch_1"]["data"][0].reshape(3, 32, 32)
    assert np.array_equal(data.train_images[0].numpy(), raw)


def test_imagenet32_missing_files_says_which_and_where(tmp_path):
    with pytest.raises(UserError) as err:
        prepare_imagenet32(str(tmp_path / "nowhere"), 10, 0)
    message = str(err.value)
    assert "train_data_batch_1" in message and "val_data" in message
    assert "Imagenet32_train.zip" in message and str(tmp_path / "nowhere") in message


def _idx(array: np.ndarray) -> bytes:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_fashion_mnist_from_debian_layout_is_padded_to_32(tmp_path):
    debian = tmp_path / "debian"
    debian.mkdir()
    rng = np.random.default_rng(2)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(1, 256, (7, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 7),
        "t10k-images-idx3-ubyte": rng.integers(1, 256, (3, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 3),
    }
    assert sorted(arrays) == sorted(FASHION_MNIST_FILES)
    for name, array in arrays.items():
        (debian / f"{name}.gz").write_bytes(gzip.compress(_idx(array)))
    data = prepare_fashion_mnist(str(tmp_path / "raw"), str(debian))
    assert data.train_images.shape == (7, 1, 32, 32) and data.test_images.shape == (3, 1, 32, 32)
    inner = data.train_images[:, 0, 2:30, 2:30].numpy()
    assert np.array_equal(inner, arrays["train-images-idx3-ubyte"])
    assert data.train_images[:, :, :2].sum() == 0 and data.train_images[:, :, :, 30:].sum() == 0
    assert data.test_labels.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    assert data.class_names[0] == "T-shirt/top"


def test_digits_resized_split_stratified_and_seeded():
    data = prepare_digits(0.25, 0)
    assert data.image_shape == (1, 32, 32)
    assert len(data.train_labels) + len(data.test_labels) == 1797
    assert torch.bincount(data.test_labels).min() >= 40  # stratified: every class in test
    again = prepare_digits(0.25, 0)
    assert torch.equal(data.train_images, again.train_images)
    assert data.train_images.max() == 255


def test_prepared_dataset_round_trips(tmp_path):
    data = prepare_digits(0.25, 0)
    data.save(tmp_path / "digits.pt")
    loaded = PreparedDataset.load(tmp_path / "digits.pt")
    assert torch.equal(loaded.test_images, data.test_images) and loaded.class_ids == list(range(10))


def test_unknown_dataset_and_bad_options_are_user_errors():
    with pytest.raises(UserError, match="unknown dataset 'mnist'"):
        prepare("mnist", {})
    with pytest.raises(UserError, match="bad options for dataset 'digits'"):
        prepare("digits", {"test_fraction": 0.2})
