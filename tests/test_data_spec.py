"""Datasets named by a SPEC (stitchkit.data.data_spec) and models made stitchable on them
(stitchkit.models.adapt): an image folder read back exactly, the built-in digits, and
one clear error for each bad SPEC."""

import numpy as np
import pytest
import torch
from PIL import Image

from stitchkit.common.errors import UserError
from stitchkit.data.augment import to_unit_float
from stitchkit.data.data_spec import named_data
from stitchkit.models.adapt import stitchable
from stitchkit.models.model_spec import named_model


def _folder(root, sizes=((12, 10),), classes=("cat", "dog"), test="test"):
    """root/{train,test}/<class>/<n>.png of random RGB pixels; returns them by split."""
    g = np.random.default_rng(0)
    pixels = {}
    for split in ("train", test):
        for label, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for n, (h, w) in enumerate(sizes * 2):
                array = g.integers(0, 256, (h, w, 3), dtype=np.uint8)
                Image.fromarray(array).save(root / split / name / f"{n}.png")
                pixels.setdefault(split, []).append((array, label))
    return pixels


def test_an_image_folder_reads_back_exactly(tmp_path):
    written = _folder(tmp_path)
    data = named_data(f"imagefolder:{tmp_path}")
    assert data.class_names == ["cat", "dog"] and data.train_images.shape == (4, 3, 12, 10)
    for images, labels, split in (
        (data.train_images, data.train_labels, "train"),
        (data.test_images, data.test_labels, "test"),
    ):
        for image, label, (array, expected) in zip(images, labels, written[split], strict=True):
            assert np.array_equal(image.permute(1, 2, 0).numpy(), array)
            assert int(label) == expected


def test_images_of_several_sizes_need_a_size(tmp_path):
    _folder(tmp_path, sizes=((12, 10), (9, 14)), test="val")
    with pytest.raises(UserError, match=r"differ in size; give size=N"):
        named_data(f"imagefolder:{tmp_path}")
    data = named_data(f"imagefolder:{tmp_path},size=8")
    assert data.train_images.shape == (8, 3, 8, 8) and data.test_images.shape == (8, 3, 8, 8)


@pytest.mark.parametrize(
    "spec, pattern",
    [
        ("mnist-fashion", r"give a built-in dataset \(cifar10, digits, fashion-mnist"),
        ("imagefolder:/nonexistent", r"no folder /nonexistent"),
        ("imagefolder:{tmp},size=big", r"'size=big' is not size=N"),
        ("imagefolder:{tmp}/train", r"no train folder under"),
    ],
    ids=["unknown", "missing", "size", "no-split"],
)
def test_bad_data_specs(tmp_path, spec, pattern):
    _folder(tmp_path)
    with pytest.raises(UserError, match=pattern):
        named_data(spec.format(tmp=tmp_path))


def test_a_torchvision_model_stitches_on_grey_images_with_its_points_found():
    data = named_data("digits")
    named = named_model("torchvision:resnet18,num_classes=10")
    model = stitchable(named, tuple(data.test_images.shape[1:]))
    assert model.points == [f"layer{s}.{b}" for s in range(1, 5) for b in (0, 1)]
    x = to_unit_float(data.test_images[:4])
    with torch.no_grad():
        whole = named.model(x.expand(-1, 3, -1, -1))
        assert torch.allclose(model.forward_from(model.forward_to(x, 3), 3), whole, atol=1e-5)
    vgg = named_model("torchvision:vgg11_bn,num_classes=10")
    with pytest.raises(UserError, match=r"fails on inputs of shape"):
        stitchable(vgg, (1, 1, 1))  # too small for its pools
