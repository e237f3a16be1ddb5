"""Dataset readers on small fixtures written in the real on-disk formats."""

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch
import torchvision

from stitchkit.common.errors import UserError
from stitchkit.data.datasets import (
    AUTHORS_WNIDS,
    FASHION_MNIST_FILES,
    IMAGENET32_TRAIN_FILES,
    prepare,
    prepare_cifar10,
    prepare_digits,
    prepare_fashion_mnist,
    prepare_ls_imagenet,
)
from stitchkit.data.prepared import PreparedDataset

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


def write_class_map(root) -> list[str]:
    """map_clsloc.txt: 1000 lines "wnid index name"; the authors' WNIDs at indices 10, 20..."""
    root.mkdir(parents=True, exist_ok=True)
    wnids = [f"n9{i:07d}" for i in range(1, 1001)]
    for n, wnid in enumerate(AUTHORS_WNIDS):
        wnids[10 * (n + 1) - 1] = wnid
    lines = [f"{w} {i} name_{w}" for i, w in enumerate(wnids, start=1)]
    (root / "map_clsloc.txt").write_text("\n".join(reversed(lines)) + "\n")  # any line order
    return wnids


def write_imagenet32(root, labels_kept, extra_label=999, per_class=2):
    """Official Downsampled ImageNet pickles: 'data' (N, 3072), 1-based 'labels'."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    labels = [c for c in [*labels_kept, extra_label] for _ in range(per_class)]
    files = {}
    for name in [*IMAGENET32_TRAIN_FILES, "val_data"]:
        entry = {"data": _rows(rng, len(labels)), "labels": labels, "mean": np.zeros(3072)}
        (root / name).write_bytes(pickle.dumps(entry))
        files[name] = entry
    return files


def test_ls_imagenet_takes_the_authors_wnids_through_the_class_map(tmp_path):
    root = tmp_path / "imagenet32"
    wnids = write_class_map(root)
    label_of = {w: i for i, w in enumerate(wnids, start=1)}
    files = write_imagenet32(root, [label_of[w] for w in AUTHORS_WNIDS])
    data = prepare_ls_imagenet(str(root))
    assert data.class_ids == sorted(AUTHORS_WNIDS)  # labels in sorted-WNID order
    assert data.class_names[0] == f"name_{sorted(AUTHORS_WNIDS)[0]}"
    assert len(data.train_labels) == 10 * 2 * 10 and len(data.test_labels) == 20
    # the pickles list the classes in the authors' order; labels follow sorted WNIDs
    expected = [sorted(AUTHORS_WNIDS).index(w) for w in AUTHORS_WNIDS for _ in range(2)]
    assert data.test_labels.tolist() == expected
    raw = files["train_data_batch_1"]["data"][0].reshape(3, 32, 32)
    assert np.array_equal(data.train_images[0].numpy(), raw)


def test_ls_imagenet_seeded_draw_and_bad_classes(tmp_path):
    root = tmp_path / "imagenet32"
    wnids = write_class_map(root)
    write_imagenet32(root, list(range(1, 1001)), per_class=1)
    draws = [
        prepare("ls-imagenet-10", {"raw_dir": str(root), "wnids": None, "class_seed": seed})
        for seed in (0, 0, 1)
    ]
    assert draws[0].class_ids == draws[1].class_ids != draws[2].class_ids
    assert len(draws[0].class_ids) == 10 and set(draws[0].class_ids) <= set(wnids)
    with pytest.raises(UserError, match=r"WNIDs \['n00000000'\] are not in"):
        prepare_ls_imagenet(str(root), wnids=("n00000000", *AUTHORS_WNIDS[1:]))
    with pytest.raises(UserError, match="give either wnids .* or wnids: null with a class_seed"):
        prepare("ls-imagenet-10", {"raw_dir": str(root), "class_seed": 3})


def test_ls_imagenet_without_the_class_map_says_what_to_add(tmp_path):
    with pytest.raises(UserError) as err:
        prepare_ls_imagenet(str(tmp_path / "nowhere"))
    assert "map_clsloc.txt is missing" in str(err.value) and "devkit" in str(err.value)
    write_class_map(tmp_path / "nofiles")
    with pytest.raises(UserError) as err:
        prepare_ls_imagenet(str(tmp_path / "nofiles"))
    message = str(err.value)
    assert "train_data_batch_1" in message and "val_data" in message
    assert "Imagenet32_train.zip" in message and str(tmp_path / "nofiles") in message


def test_ls_imagenet_from_full_imagenet_folders_resizes_as_the_authors(tmp_path):
    from PIL import Image
    from torchvision.transforms import CenterCrop, Compose, Resize

    rng = np.random.default_rng(3)
    sizes = {"train": [(48, 40), (33, 70)], "val": [(64, 64)]}
    first = None
    for split, shapes in sizes.items():
        for wnid in AUTHORS_WNIDS:
            folder = tmp_path / "imagenet" / split / wnid
            folder.mkdir(parents=True)
            for n, (h, w) in enumerate(shapes):
                array = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                mode = "L" if n == 1 else "RGB"  # a greyscale JPEG becomes RGB
                image = Image.fromarray(array[..., 0] if mode == "L" else array, mode)
                image.save(folder / f"{wnid}_{n}.png")
                if first is None and wnid == sorted(AUTHORS_WNIDS)[0] and split == "train":
                    first = image
    data = prepare("ls-imagenet-10", {"raw_dir": str(tmp_path / "imagenet"), "source": "imagenet"})
    assert data.train_images.shape == (20, 3, 32, 32) and data.test_images.shape == (10, 3, 32, 32)
    assert data.class_ids == sorted(AUTHORS_WNIDS) and data.class_names == data.class_ids
    expected = np.asarray(Compose([Resize(32), CenterCrop(32)])(first).convert("RGB"))
    assert np.array_equal(data.train_images[0].permute(1, 2, 0).numpy(), expected)
    assert data.train_labels.tolist() == [c for c in range(10) for _ in range(2)]
    with pytest.raises(UserError, match=r"ImageNet class folders missing under .*train/n0"):
        prepare_ls_imagenet(str(tmp_path / "empty"), source="imagenet")


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
    with pytest.raises(UserError, match=r"datasets\.mnist: unknown dataset"):
        prepare("mnist", {})
    with pytest.raises(UserError, match=r"datasets\.digits\.test_size: unknown key"):
        prepare("digits", {"test_size": 0.2})
    with pytest.raises(UserError, match=r"datasets\.digits\.test_fraction: input should be less"):
        prepare("digits", {"test_fraction": 1.5})
