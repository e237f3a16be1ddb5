"""A run's results as the stages wrote them under reports/: the JSON reports and, for
every stitch, bootstrap draws of its scores from the per-sample outputs (samples.py).

A *draw* (bootstrap.py) is a statistic's value on the test images and on B resamples
of them; draws of one test set share their resamples, so any arithmetic over them is
paired. Accuracies and agreements are fractions.
"""

import json
from pathlib import Path

import numpy as np

from stitchkit.measures.bootstrap import Interval, Resampler
from stitchkit.measures.samples import PanelSamples

# a report's score -> (test split, per-sample quantity)
SCORE_SPLITS = {
    "test_accuracy": ("clean", "correct"),
    "shortcut_test_accuracy": ("shortcut", "correct"),
    "rolled_test_accuracy": ("rolled", "correct"),
    "robust_accuracy": ("robust", "correct"),
    "agreement": ("clean", "agreement"),
}


def stitch_key(result: dict) -> str:
    """The per-sample key of a report's result (a series' results carry ``classes``)."""
    key = f"{result['mode']}/{result['front_point']}/{result['end_point']}"
    return f"{result['classes']}/{key}" if "classes" in result else key


class RunResults:
    """The reports a run's stages wrote under ``root`` (reports/), read once each, and
    draws of their scores with one ``resampler``."""

    def __init__(self, root: Path, resampler: Resampler | None = None):
        self.root, self._read = Path(root), {}
        self.resampler = resampler or Resampler()

    def _json(self, folder: str, name: str) -> dict:
        path = self.root / folder / f"{name}.json"
        if path not in self._read:
            self._read[path] = json.loads(path.read_text())
        return self._read[path]

    def panel(self, name: str) -> dict:
        return self._json("stitch", name)

    def series(self, name: str) -> dict:
        return self._json("subset", name)

    def similarity(self, name: str) -> dict:
        return self._json("similarity", name)

    def cka(self, name: str) -> dict:
        return self._json("cka", name)

    def samples(self, name: str) -> PanelSamples:
        """A panel's per-sample outputs (a series': ``subset-<series>``, a model's robust
        ones: ``robustness-<model>``)."""
        path = self.root / "samples" / f"{name}.pt"
        if path not in self._read:
            self._read[path] = PanelSamples.load(path, _stage_of(name))
        return self._read[path]

    def draw(self, name: str, result: dict, score: str) -> np.ndarray:
        """The draw of one stitch's ``score`` (a key of SCORE_SPLITS); ``name`` is the
        panel, or ``subset-<series>``."""
        split, quantity = SCORE_SPLITS[score]
        samples, key = self.samples(name), stitch_key(result)
        read = samples.correct if quantity == "correct" else samples.agreement
        values = read(key, split)
        return self.resampler.mean(values, samples.split_labels(split))

    def agreement_draw(self, name: str, result: dict, split: str) -> np.ndarray:
        """The draw of one stitch's agreement probability with its end model on a test
        split (clean, shortcut, rolled or robust)."""
        samples = self.samples(name)
        values = samples.agreement(stitch_key(result), split)
        return self.resampler.mean(values, samples.split_labels(split))

    def anchor_draw(self, panel: str, role: str, split: str) -> np.ndarray:
        """The draw of the front's or end's (``role``) accuracy on a panel's test split:
        from the panel's own samples, for a robust split from the model's robustness
        samples when they attacked the same images; else the report's value, held fixed."""
        report, samples = self.panel(panel), self.samples(panel)
        if split in samples.anchors.get(role, {}):
            values = samples.anchor_correct(role, split)
            return self.resampler.mean(values, samples.split_labels(split))
        model = report[role]
        if split == "robust" and split in samples.labels:
            robust = self.samples(f"robustness-{model}")
            labels = robust.split_labels("robust")
            if np.array_equal(labels, samples.split_labels("robust")):
                return self.resampler.mean(robust.anchor_correct(model, "robust"), labels)
        value = report[f"{role}_robust_accuracy" if split == "robust" else f"{role}_accuracy"]
        return np.full(self.resampler.settings.resamples + 1, float(value))

    def with_intervals(self, name: str, report: dict) -> dict:
        """A copy of a panel's (or, name subset-<series>, a series') report whose every
        result carries ``intervals``: {score: {value, low, high, n}} for each score of
        SCORE_SPLITS it has."""
        samples = self.samples(name)
        results = []
        for r in report["results"]:
            intervals = {}
            for score, (split, _) in SCORE_SPLITS.items():
                if r.get(score) is not None and split in samples.labels:
                    draw = self.draw(name, r, score)
                    intervals[score] = self.interval(draw, self.n(name, split)).as_dict()
            results.append(r | {"intervals": intervals})
        return report | {"results": results}

    def n(self, name: str, split: str) -> int:
        """The number of test images of a panel's split."""
        return len(self.samples(name).labels[split])

    @property
    def confidence(self) -> float:
        return self.resampler.settings.confidence

    def interval(self, draw: np.ndarray, n: int) -> Interval:
        return self.resampler.interval(draw, n)


def _stage_of(name: str) -> str:
    for prefix, stage in (("subset-", "subset@"), ("robustness-", "robustness@")):
        if name.startswith(prefix):
            return stage + name.removeprefix(prefix)
    return f"stitch@{name}"
