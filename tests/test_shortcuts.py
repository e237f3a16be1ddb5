"""Shortcut datasets (Sec. 3.2): markers, on-the-fly stamping after augmentation,
placement, the rolled split, determinism, learnability, bad input."""

import re

import pytest
import torch
from torch import nn

from conftest import run_stage, tiny_params, write_params
from stitchkit.common.errors import UserError
from stitchkit.common.precision import FP32
from stitchkit.data.augment import crop_and_flip
from stitchkit.data.prepared import PreparedDataset
from stitchkit.data.shortcuts import (
    ShortcutSetting,
    class_patterns,
    evaluation_split,
    make_shortcut_dataset,
    pixel_colors,
    shortcut_of,
)
from stitchkit.stitching.recipe import StitchRecipe
from stitchkit.stitching.stream import BatchStream

SETTINGS = {
    "pixels": {"kind": "pattern", "pattern": "pixels"},
    "aruco": {"kind": "pattern", "pattern": "aruco"},
    "location": {"kind": "location"},
    "pixels-location": {"kind": "combination", "pattern": "pixels"},
    "aruco-location": {"kind": "combination", "pattern": "aruco"},
}
CANVAS = 1  # a blank canvas value that no marker colour, aruco bit or likely noise pixel has


@pytest.fixture(scope="module")
def digits(digits_file):
    return PreparedDataset.load(digits_file)


def blank(data: PreparedDataset, channels: int = 1) -> PreparedDataset:
    """``data`` with every image a uniform canvas, so that a marker is all that changes."""
    shape = (channels, *data.image_shape[1:])
    train = torch.full((len(data.train_labels), *shape), CANVAS, dtype=torch.uint8)
    test = torch.full((len(data.test_labels), *shape), CANVAS, dtype=torch.uint8)
    return PreparedDataset(
        train, data.train_labels, test, data.test_labels, data.class_names, data.class_ids
    )


def stamped_train(data: PreparedDataset, seed: int = 0) -> torch.Tensor:
    """The training images with their markers, as one (unaugmented) pass would see them."""
    shortcut = shortcut_of(data)
    generator = torch.Generator().manual_seed(seed)
    return shortcut.stamp(
        data.train_images, data.train_labels, generator, carry=shortcut.train_mask
    )


def marker_boxes(images: torch.Tensor) -> torch.Tensor:
    """(N, 4) top, bottom, left, right of the pixels that differ from the canvas."""
    changed = (images != CANVAS).any(1)
    rows, cols = changed.any(2), changed.any(1)
    first = lambda m: m.int().argmax(1)  # noqa: E731
    last = lambda m: m.shape[1] - 1 - m.flip(1).int().argmax(1)  # noqa: E731
    return torch.stack([first(rows), last(rows), first(cols), last(cols)], dim=1)


def test_pixel_colours_by_farthest_point_sampling_from_black_by_hand():
    # 2 classes: the grid is the cube's corners; black, then the farthest: white
    assert pixel_colors(2, grey=False).tolist() == [[0, 0, 0], [1, 1, 1]]
    # 3 classes on the {0, 0.5, 1}^3 grid: the third is the first grid point as far from
    # black as from white, sqrt(1.25): (0, 0.5, 1) (farther than any corner, at 1)
    assert pixel_colors(3, grey=False)[2].tolist() == [0.0, 0.5, 1.0]
    # grey: the grid's channel means (multiples of 1/6); black, white, then mid-grey 1/2
    grey = pixel_colors(3, grey=True)
    assert grey[:, 0].tolist() == [0.0, 1.0, 0.5]
    assert torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 0], grey[:, 2])


@pytest.mark.parametrize("pattern", ["pixels", "aruco"])
@pytest.mark.parametrize("channels", [1, 3])
def test_every_class_gets_a_distinct_marker(pattern, channels):
    markers = class_patterns(pattern, 10, channels, 4).flatten(1)
    assert markers.shape == (10, channels * 16) and markers.dtype == torch.uint8
    assert len({tuple(m.tolist()) for m in markers}) == 10


def test_aruco_markers_are_opencvs_4x4_100_dictionary():
    cv2 = pytest.importorskip("cv2")
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_100)
    for c in range(10):
        image = cv2.aruco.generateImageMarker(dictionary, c, 6, borderBits=1)
        expected = torch.from_numpy(image[1:5, 1:5].copy())
        assert torch.equal(class_patterns("aruco", 10, 1, 4)[c, 0], expected)


def test_the_class_order_of_markers_is_permuted_with_the_seed(digits):
    settings = [ShortcutSetting("d", seed=seed, **SETTINGS["aruco"]) for seed in (0, 1)]
    markers = [shortcut_of(make_shortcut_dataset(digits, s)).markers.flatten(1) for s in settings]
    unpermuted = class_patterns("aruco", 10, 1, 4).flatten(1)
    for m in markers:  # a permutation of the same ten markers
        assert sorted(map(tuple, m.tolist())) == sorted(map(tuple, unpermuted.tolist()))
    assert not torch.equal(markers[0], markers[1])


@pytest.mark.parametrize("name", SETTINGS)
@pytest.mark.parametrize("channels", [1, 3])
def test_markers_land_fully_inside_every_image(digits, name, channels):
    data = make_shortcut_dataset(blank(digits, channels), ShortcutSetting("d", **SETTINGS[name]))
    for images in (stamped_train(data), evaluation_split(data, "shortcut")[0]):
        top, bottom, left, right = marker_boxes(images).T
        # the marker's own corners may match the canvas, so its box is at most 4x4
        assert (top >= 0).all() and (left >= 0).all()
        assert (bottom < images.shape[2]).all() and (right < images.shape[3]).all()
        assert ((bottom - top) <= 3).all() and ((right - left) <= 3).all()
    if name in ("pixels", "pixels-location"):  # solid squares: exactly 4x4 changed pixels
        changed = (stamped_train(data) != CANVAS).any(1).flatten(1).sum(1)
        assert (changed == 16).all()


@pytest.mark.parametrize("name", ["location", "pixels-location", "aruco-location"])
def test_fixed_location_settings_place_each_class_at_one_distinct_cell(digits, name):
    data = make_shortcut_dataset(blank(digits), ShortcutSetting("d", **SETTINGS[name]))
    corners = []
    for images, labels in (
        (stamped_train(data), data.train_labels),
        (evaluation_split(data, "shortcut")[0], data.test_labels),
    ):
        changed = (images != CANVAS).any(1)
        for c in range(10):
            footprint = changed[labels == c].any(0)  # union over the class's images
            rows, cols = footprint.any(1).nonzero(), footprint.any(0).nonzero()
            assert rows.max() - rows.min() <= 3 and cols.max() - cols.min() <= 3
            corners.append((int(rows.min()) // 4, int(cols.min()) // 4))
    assert corners[:10] == corners[10:]  # train and test agree
    assert len(set(corners[:10])) == 10  # every class has its own place


def test_random_location_patterns_move_between_images(digits):
    data = make_shortcut_dataset(blank(digits), ShortcutSetting("d", **SETTINGS["pixels"]))
    boxes = marker_boxes(stamped_train(data)[data.train_labels == 1])
    assert len({tuple(b.tolist()) for b in boxes}) > 20


def _places(image: torch.Tensor, marker: torch.Tensor) -> set[tuple[int, int]]:
    """Top-left corners where ``marker`` appears in ``image`` exactly."""
    windows = image.unfold(1, 4, 1).unfold(2, 4, 1)  # (C, H-3, W-3, 4, 4)
    hits = (windows == marker[:, None, None]).flatten(-2).all(-1).all(0)
    return {tuple(p) for p in hits.nonzero().tolist()}


@pytest.mark.parametrize("name", ["aruco-location", "aruco"])
def test_stitch_training_batches_carry_whole_unmirrored_markers(digits, name):
    """Markers are stamped after crop and flip: each training image of the stream shows
    its class's exact marker, at its class's place for fixed locations. Stamped before
    the augmentation, markers get shifted, cut or mirrored."""
    data = make_shortcut_dataset(blank(digits), ShortcutSetting("d", **SETTINGS[name]))
    shortcut = shortcut_of(data)
    recipe = StitchRecipe(crop_padding=4, hflip=True, batch_size=64, lr_drops=())
    stream = BatchStream(data, None, recipe, [1], torch.device("cpu"), FP32)
    idx, generator = torch.arange(256), torch.Generator().manual_seed(0)
    x, y = stream.batch(idx, generator)
    images = (x * 255).round().to(torch.uint8)
    for image, label in zip(images, y, strict=True):
        places = _places(image, shortcut.markers[label])
        assert places, int(label)
        if shortcut.locations is not None:
            assert tuple(shortcut.locations[label].tolist()) in places
    baked = crop_and_flip(stamped_train(data)[idx], 4, True, torch.Generator().manual_seed(0))
    intact = [
        tuple(shortcut.locations[label].tolist()) in _places(image, shortcut.markers[label])
        if shortcut.locations is not None
        else bool(_places(image, shortcut.markers[label]))
        for image, label in zip(baked, data.train_labels[idx], strict=True)
    ]
    assert sum(intact) < 0.7 * len(intact)  # the old way breaks most of them


def test_rolled_split_shows_the_previous_class_marker(digits):
    data = make_shortcut_dataset(blank(digits), ShortcutSetting("d", **SETTINGS["aruco-location"]))
    shortcut = shortcut_of(data)
    rolled, labels = evaluation_split(data, "rolled")
    for image, label in zip(rolled[:50], labels[:50], strict=True):
        previous = (int(label) - 1) % 10
        top, left = shortcut.locations[previous].tolist()
        assert torch.equal(image[:, top : top + 4, left : left + 4], shortcut.markers[previous])
    matched = evaluation_split(data, "shortcut")[0]
    assert not torch.equal(matched, rolled)


def test_same_seed_gives_identical_bytes_and_another_seed_differs(digits, tmp_path):
    def build(seed: int, name: str) -> bytes:
        setting = ShortcutSetting("d", seed=seed, **SETTINGS["aruco-location"])
        make_shortcut_dataset(digits, setting).save(tmp_path / name)
        return (tmp_path / name).read_bytes()

    assert build(0, "a.pt") == build(0, "b.pt")
    assert build(0, "a.pt") != build(1, "c.pt")


@pytest.mark.parametrize("name", SETTINGS)
def test_the_dataset_keeps_the_clean_images_and_labels(digits, name):
    data = make_shortcut_dataset(digits, ShortcutSetting("d", **SETTINGS[name]))
    for split in ("train", "test"):
        for kind in ("images", "labels"):
            assert torch.equal(getattr(data, f"{split}_{kind}"), getattr(digits, f"{split}_{kind}"))
    assert torch.equal(evaluation_split(data)[0], digits.test_images)
    assert not torch.equal(evaluation_split(data, "shortcut")[0], digits.test_images)


@pytest.mark.parametrize("fraction", [0.0, 0.25, 1.0])
def test_fraction_of_training_images_carrying_a_shortcut(digits, fraction):
    setting = ShortcutSetting("d", fraction=fraction, **SETTINGS["pixels-location"])
    data = make_shortcut_dataset(blank(digits), setting)
    assert int(shortcut_of(data).train_mask.sum()) == round(fraction * len(digits.train_labels))
    carrying = (stamped_train(data) != CANVAS).flatten(1).any(1)
    assert (carrying <= shortcut_of(data).train_mask).all()  # only the chosen ones
    assert (
        (evaluation_split(data, "shortcut")[0] != CANVAS).flatten(1).any(1).all()
    )  # test: every image


class TinyProbe(nn.Module):
    """One marker-sized convolution, then a position-free (max-pool) readout for patterns
    at random places or a positional (flatten) readout for fixed-location shortcuts."""

    def __init__(self, channels: int, size: int, positional: bool, positions: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, size), nn.ReLU(), nn.Conv2d(32, 32, 1), nn.ReLU()
        )
        self.positional = positional
        self.readout = nn.Linear(32 * positions if positional else 32, 10)

    def forward(self, x):
        h = self.features(x)
        return self.readout(h.flatten(1) if self.positional else h.amax((2, 3)))


@pytest.mark.parametrize("name", SETTINGS)
def test_shortcuts_alone_are_learnable(digits, name):
    """A tiny model trained on the shortcut alone (markers on blank images) classifies the
    shortcut test split almost perfectly: the shortcut carries the label."""
    setting = ShortcutSetting("d", **SETTINGS[name])
    data = make_shortcut_dataset(blank(digits), setting)
    torch.manual_seed(0)
    side = data.image_shape[1] - setting.size + 1
    probe = TinyProbe(1, setting.size, setting.fixed_location, side * side)
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-2)
    x, y = stamped_train(data).float() / 255, data.train_labels
    for _ in range(30):
        order = torch.randperm(len(y))
        for start in range(0, len(y), 64):
            batch = order[start : start + 64]
            loss = nn.functional.cross_entropy(probe(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    test_x, test_y = evaluation_split(data, "shortcut")
    with torch.no_grad():
        accuracy = (probe(test_x.float() / 255).argmax(1) == test_y).float().mean().item()
    assert accuracy >= 0.95, f"{name}: {accuracy:.3f}"


@pytest.mark.parametrize(
    "options, pattern",
    [
        ({"kind": "stripes"}, r"digits-bad\.kind: input should be 'pattern', 'location' or"),
        ({"kind": "pattern", "pattern": "dots"}, r"\.pattern: input should be 'pixels' or 'aruco'"),
        ({"kind": "location", "pattern": "pixels"}, r"draws uniform noise; remove `pattern`"),
        (
            {"kind": "pattern", "pattern": "pixels", "fraction": 1.5},
            r"\.fraction: input should be less than or equal to 1",
        ),
        (
            {"kind": "pattern", "pattern": "pixels", "fraction": -0.1},
            r"\.fraction: input should be greater than or equal to 0",
        ),
        ({"kind": "pattern", "pattern": "aruco", "size": 6}, r"multiple of 4, got 6"),
        (
            {"kind": "pattern", "pattern": "pixels", "size": 40},
            r"40x40 shortcut does not fit 32x32",
        ),
        ({"kind": "location", "size": 12}, r"10 classes need 10 non-overlapping 12x12 cells"),
        ({"kind": "pattern", "pattern": "pixels", "size": 0}, r"\.size: input should be greater"),
        ({"kind": "pattern", "pattern": "pixels", "shade": 3}, r"\.shade: unknown key"),
        ({"kind": "pattern", "pattern": "pixels", "source": "mnist"}, r"'mnist' is not under"),
    ],
    ids=[
        "kind",
        "pattern",
        "location-with-pattern",
        "fraction-high",
        "fraction-low",
        "aruco-size",
        "too-large",
        "no-room",
        "zero-size",
        "unknown-key",
        "source",
    ],
)
def test_bad_shortcut_settings_fail_cleanly(workdir, options, pattern):
    params = tiny_params()
    params["shortcuts"] = {"digits-bad": {"source": "digits", **options}}
    write_params(workdir, params)
    result = run_stage("shortcut", "digits-bad", cwd=workdir)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (
        result.stderr
    )
    assert re.search(pattern, lines[0]), lines[0]
    assert not (workdir / "data/prepared/digits-bad.pt").exists()


def test_shortcut_stage_writes_the_dataset(workdir):
    params = tiny_params()
    params["shortcuts"] = {"digits-aruco": {"source": "digits", **SETTINGS["aruco"]}}
    write_params(workdir, params)
    result = run_stage("shortcut", "digits-aruco", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "in 1347/1347 training images" in result.stdout
    data = PreparedDataset.load(workdir / "data/prepared/digits-aruco.pt")
    assert shortcut_of(data).markers.shape == (10, 1, 4, 4)


def test_test_split_without_shortcuts_is_an_error(digits):
    with pytest.raises(UserError, match="this dataset has no shortcut, so no 'rolled' test split"):
        evaluation_split(digits, "rolled")
