"""The activation cache (stitchkit.models.activation_cache): each (model, point, images)
activation is extracted once, read back memory-mapped and equal to the model's own
forward_to; new weights, preprocessing or images get their own files; an interrupted
extraction leaves no file behind."""

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from stitchkit.data.augment import to_unit_float
from stitchkit.models.activation_cache import ActivationCache
from stitchkit.models.architectures import ModelSpec, build_model
from stitchkit.models.graph_split import GraphSplit


def _model(seed: int = 0):
    torch.manual_seed(seed)
    return build_model(ModelSpec("resnet18", 10, 1, 4, (0.5,), (0.25,)))


def _images(n: int = 30, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 1, 32, 32), generator=g).to(torch.uint8)


def test_activations_are_extracted_once_and_equal_the_models_own(tmp_path):
    model, images = _model(), _images()
    cache = ActivationCache(tmp_path, batch_size=8)
    first = cache.get(model, [3, 9], images)
    assert isinstance(first[3], np.memmap) and first[3].dtype == np.float32
    with torch.no_grad():
        expected = model.eval().activations(to_unit_float(images), [3, 9])
    for k in (3, 9):
        np.testing.assert_allclose(first[k], expected[k].numpy(), rtol=1e-6, atol=1e-6)
    passes, extract = [], model.activations
    model.activations = lambda x, points: passes.append(1) or extract(x, points)
    again = cache.get(model, [3, 9], images)
    assert passes == [] and np.array_equal(again[9], first[9])  # read, not extracted
    cache.get(model, [3, 5], images)
    assert len(passes) == 4  # point 5 alone, in batches of 8 of 30 images
    assert len(cache.extracted) == 3 and not list(tmp_path.glob(".*tmp"))


def test_new_weights_preprocessing_or_images_get_their_own_files(tmp_path):
    cache = ActivationCache(tmp_path)
    images = _images()
    paths = {
        cache.path(_model(0), 5, images),
        cache.path(_model(1), 5, images),  # other weights
        cache.path(_model(0), 5, _images(seed=1)),  # other images
        cache.path(_model(0), 6, images),  # another point
    }
    assert len(paths) == 4
    resnet = torchvision.models.resnet18(num_classes=10)
    plain, normalised = (
        GraphSplit(resnet, ["layer1.0"], (3, 32, 32), preprocess=p)
        for p in (None, torchvision.transforms.Normalize((0.5,) * 3, (0.2,) * 3))
    )
    rgb = _images().expand(-1, 3, -1, -1).contiguous()
    assert cache.path(plain, 1, rgb) != cache.path(normalised, 1, rgb)
    assert cache.path(plain, 1, rgb).name.endswith("-layer1.0.npy")


def test_an_interrupted_extraction_leaves_no_file(tmp_path):
    model = _model()

    class _Failing(nn.Module):
        def __init__(self):
            super().__init__()
            self.model, self.calls = model, 0

        def activations(self, x, points):
            self.calls += 1
            if self.calls == 2:
                raise KeyboardInterrupt
            return model.activations(x, points)

    cache = ActivationCache(tmp_path, batch_size=8)
    with pytest.raises(KeyboardInterrupt):
        cache.get(_Failing(), [5], _images())
    assert list(tmp_path.iterdir()) == []
