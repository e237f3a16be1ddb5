"""``compare``: how alike two models are, layer by layer, by stitching and by the usual
similarity measures, as one tidy table with a 95% interval on every value.

Each row is one (front point, end point, method, metric):

- method ``stitch:MODE``: a stitch from the front's point into the end's, fitted with MODE
  (stitchkit.stitching.objectives) by one shared PanelTrainer; metrics ``accuracy`` and
  the agreement of the stitched model with the end model (stitchkit.measures.agreement:
  ``agreement_prob``, ``agreement_ratio``, ``hard_kappa``), on the recipe's test images,
  with paired percentile-bootstrap intervals (stitchkit.measures.bootstrap);
- method ``front`` and ``end`` (no points): each model's own accuracy, the anchors;
- method MEASURE (stitchkit.measures.similarity): metric ``similarity`` (``distance``
  for Procrustes) between the two points' activations on ``samples`` test images, read
  through an activation cache, with the intervals of stitchkit.measures.measure_intervals.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from stitchkit.common.errors import UserError
from stitchkit.common.sampling import check_count, seeded_subset
from stitchkit.compare.recipes import named_recipe
from stitchkit.compare.sides import Points, Side, check_classes, compared_side
from stitchkit.data.augment import to_unit_float
from stitchkit.data.data_spec import named_data
from stitchkit.data.prepared import PreparedDataset
from stitchkit.measures.bootstrap import BootstrapSettings, Interval, Resampler, interval_of
from stitchkit.measures.measure_intervals import (
    ROTATION_INVARIANT,
    flat,
    jackknife_groups,
    jackknife_interval,
    reduced,
)
from stitchkit.measures.similarity import MEASURES
from stitchkit.models.activation_cache import ActivationCache
from stitchkit.models.model_spec import NamedModel
from stitchkit.stitching.objectives import MODES
from stitchkit.stitching.recipe import StitchRecipe, make_spec
from stitchkit.stitching.trainer import PanelTrainer

COLUMNS = ["front_point", "end_point", "method", "metric", "value", "low", "high", "n"]
DEFAULT_MODES = ("dm", "tlm", "fula")
DEFAULT_MEASURES = ("cka", "cka_debiased", "rbf_cka", "procrustes", "rsa", "mutual_knn")
STITCH_METRICS = ("accuracy", "agreement_prob", "agreement_ratio", "hard_kappa")
ACTIVATION_CACHE = Path("~/.cache/stitchkit/activations")
JACKKNIFE_GROUPS = 10

Model = str | NamedModel | torch.nn.Module


def compare(
    front: Model,
    end: Model,
    data: str | PreparedDataset,
    points: Points = "auto",
    end_points: Points | None = None,
    modes: Sequence[str] = DEFAULT_MODES,
    measures: Sequence[str] = DEFAULT_MEASURES,
    recipe: str | StitchRecipe = "fast",
    samples: int | None = 1000,
    device: torch.device | str = "cpu",
    cache: ActivationCache | str | Path | None = ACTIVATION_CACHE,
    bootstrap: BootstrapSettings | None = None,
    progress: bool = True,
    checkpoint: Path | None = None,
) -> pd.DataFrame:
    """The table (COLUMNS; module docstring) comparing ``front`` and ``end`` on ``data``.

    ``front``, ``end``: SPEC strings (stitchkit.models.model_spec), NamedModels or
    modules (with ``modes``, the end's head must have one output per class of the data;
    measures alone need no head); ``data``: a SPEC (stitchkit.data.data_spec) or a
    PreparedDataset.
    ``points`` (both sides, unless ``end_points``): "auto", "auto:N" or names
    (stitchkit.compare.sides). ``recipe``: "fast", "paper" or a StitchRecipe.
    ``samples``: test images the measures read (None: all). ``cache``: the activation
    cache's folder (None: activations are recomputed wherever a measure reads them).
    ``checkpoint``: where the stitches' training state is kept; a rerun resumes from it.
    Every input is checked before any work starts.
    """
    data = named_data(data) if isinstance(data, str) else data
    front_side = compared_side(front, data, points, "front")
    end_side = compared_side(end, data, points if end_points is None else end_points, "end")
    if modes:  # a stitched model answers with the end's head; measures need no head
        check_classes(end_side, data)
    _check_names("mode", modes, MODES)
    _check_names("measure", measures, MEASURES)
    recipe = named_recipe(recipe, data)
    check_count("samples", samples, len(data.test_labels), "test images")
    resampler = Resampler(bootstrap)
    rows: list[dict] = []
    if modes:
        rows += _stitch_rows(
            front_side, end_side, data, modes, recipe, device, resampler, progress, checkpoint
        )
    if measures:
        if cache is not None and not isinstance(cache, ActivationCache):
            cache = ActivationCache(Path(cache).expanduser(), device)
        images = _measure_images(data, samples)
        rows += _measure_rows(
            front_side, end_side, images, measures, cache, device, resampler, progress
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def _check_names(kind: str, names: Sequence[str], known: dict) -> None:
    for name in names:
        if name not in known:
            raise UserError(f"no {kind} {name!r}; choose from {', '.join(known)}")


def _row(front_point: str, end_point: str, method: str, metric: str, interval) -> dict:
    values = (interval.value, interval.low, interval.high, interval.n)
    return dict(zip(COLUMNS, (front_point, end_point, method, metric, *values), strict=True))


# -- stitching ------------------------------------------------------------------------


def _kappa(accuracy: np.ndarray, end_accuracy: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """Error consistency's draw from the draws of its three tallies (agreement.py)."""
    expected = accuracy * end_accuracy + (1 - accuracy) * (1 - end_accuracy)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected == 1, 1.0, (ratio - expected) / (1 - expected))


def _stitch_rows(
    front: Side,
    end: Side,
    data: PreparedDataset,
    modes: Sequence[str],
    recipe: StitchRecipe,
    device,
    resampler: Resampler,
    progress: bool,
    checkpoint: Path | None,
) -> list[dict]:
    specs = [
        make_spec(mode, i, j, end.model) for i in front.points for j in end.points for mode in modes
    ]
    trainer = PanelTrainer(front.model, end.model, data, specs, recipe, torch.device(device))
    results = trainer.fit(checkpoint, progress=progress)
    _, labels = trainer.scores.evaluation_split("clean")
    labels = labels.numpy()
    n = len(labels)

    def correct_of(model) -> np.ndarray:
        return trainer.scores.model_scores(model)["per_sample"]["pred"].numpy() == labels

    end_correct = correct_of(end.model)
    end_accuracy = resampler.mean(end_correct, labels)
    rows = [_row("", "", "end", "accuracy", interval_of(end_accuracy, n))]
    if front.model.num_classes == data.num_classes:
        front_accuracy = resampler.mean(correct_of(front.model), labels)
        rows.append(_row("", "", "front", "accuracy", interval_of(front_accuracy, n)))
    for result in results:
        spec, per_sample = result.spec, result.samples["clean"]
        correct = per_sample["pred"].numpy() == labels
        draws = {
            "accuracy": resampler.mean(correct, labels),
            "agreement_prob": resampler.mean(per_sample["agreement"].numpy(), labels),
            "agreement_ratio": resampler.mean(correct == end_correct, labels),
        }
        draws["hard_kappa"] = _kappa(draws["accuracy"], end_accuracy, draws["agreement_ratio"])
        front_name, end_name = front.points[spec.front_point].name, end.points[spec.end_point].name
        rows += [
            _row(front_name, end_name, f"stitch:{spec.mode}", metric, interval_of(draws[metric], n))
            for metric in STITCH_METRICS
        ]
    return rows


# -- similarity measures --------------------------------------------------------------


def _measure_images(data: PreparedDataset, samples: int | None) -> tuple[torch.Tensor, np.ndarray]:
    keep = seeded_subset(len(data.test_labels), samples, 0)
    return data.test_images[keep], data.test_labels[keep].numpy()


class _Activations:
    """One side's activations on the measure images, as float64 rows: read from the cache
    (extracted once, memory-mapped) and their reductions kept, or,
    without a cache, extracted anew at every read."""

    def __init__(self, side: Side, images: torch.Tensor, cache: ActivationCache | None, device):
        self.side, self.images, self.cache, self.device = side, images, cache, device
        self.arrays = cache.get(side.model, list(side.points), images) if cache else None
        self.kept: dict = {}

    def rows(self, k: int) -> torch.Tensor:
        if self.arrays is not None:
            return flat(self.arrays[k])
        with torch.no_grad():
            self.side.model.eval()
            batches = [
                self.side.model.forward_to(to_unit_float(batch.to(self.device)), k).cpu()
                for batch in self.images.split(250)
            ]
        return flat(torch.cat(batches))

    def reduced(self, k: int) -> torch.Tensor:
        if self.cache is None:
            return reduced(self.rows(k))
        if k not in self.kept:
            self.kept[k] = reduced(self.rows(k))
        return self.kept[k]


def _measure_rows(
    front: Side,
    end: Side,
    images: tuple[torch.Tensor, np.ndarray],
    measures: Sequence[str],
    cache: ActivationCache | None,
    device,
    resampler: Resampler,
    progress: bool,
) -> list[dict]:
    pixels, labels = images
    n, confidence = len(labels), resampler.settings.confidence
    groups = jackknife_groups(n, JACKKNIFE_GROUPS, resampler.settings.seed)
    sides = [_Activations(s, pixels, cache, device) for s in (front, end)]
    pairs = [(i, j) for i in front.points for j in end.points]
    rows = []
    for i, j in tqdm(pairs, desc="measures", unit="pair", disable=not progress):
        names = front.points[i].name, end.points[j].name
        for measure in measures:
            metric = "similarity" if MEASURES[measure].higher_is_similar else "distance"
            read = "reduced" if measure in ROTATION_INVARIANT else "rows"
            x, y = getattr(sides[0], read)(i), getattr(sides[1], read)(j)
            try:
                interval = jackknife_interval(MEASURES[measure].fn, x, y, groups, confidence)
            except ValueError as exc:  # e.g. CCA of more dimensions than images
                tqdm.write(f"{measure} at {names[0]} -> {names[1]}: {exc}")
                interval = Interval(np.nan, np.nan, np.nan, n)
            rows.append(_row(*names, measure, metric, interval))
    return rows
