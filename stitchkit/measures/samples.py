"""Per-sample outputs of a stitching stage: what every interval and verdict reduces.

reports/samples/<panel>.pt (a class-subset series: subset-<series>.pt) holds, per test
split (clean; with a shortcut, shortcut and rolled; on an adversarial panel, robust:
the attacked samples):
- ``labels[split]``: the test labels (int16);
- ``anchors[model][split]``: ``pred`` of the end model (and of the front, on its own
  task) on the same images;
- ``stitches[key][split]``: the stitch's ``pred`` (int16) and ``agreement`` with the
  end model (float32, AgreementTally), on robust also ``correct`` (right on the clean
  and the attacked image).
Keys are StitchSpec keys (``mode/front/end``), for a series ``k/mode/front/end``.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stitchkit.common.io import load_torch, save_torch

FORMAT = 1


@dataclass(frozen=True)
class PanelSamples:
    labels: dict
    anchors: dict
    stitches: dict

    def save(self, path: Path) -> None:
        save_torch(
            {
                "format": FORMAT,
                "labels": self.labels,
                "anchors": self.anchors,
                "stitches": self.stitches,
            },
            path,
        )

    @classmethod
    def load(cls, path: Path, stage: str) -> "PanelSamples":
        saved = load_torch(path, f"run its stage first (dvc repro {stage})")
        return cls(saved["labels"], saved["anchors"], saved["stitches"])

    def split_labels(self, split: str) -> np.ndarray:
        return self.labels[split].numpy()

    def correct(self, key: str, split: str = "clean") -> np.ndarray:
        """Per test image of ``split``: whether the stitch ``key`` is right (robust:
        right on the clean and on the attacked image)."""
        entry = self.stitches[key][split]
        if "correct" in entry:
            return entry["correct"].numpy().astype(np.float64)
        return (entry["pred"].numpy() == self.split_labels(split)).astype(np.float64)

    def agreement(self, key: str, split: str = "clean") -> np.ndarray:
        """Per test image: the stitch's agreement probability with the end model."""
        return self.stitches[key][split]["agreement"].numpy().astype(np.float64)

    def anchor_correct(self, model: str, split: str = "clean") -> np.ndarray:
        """Per test image: whether the end (or front) model is right."""
        entry = self.anchors[model][split]
        if "correct" in entry:
            return entry["correct"].numpy().astype(np.float64)
        return (entry["pred"].numpy() == self.split_labels(split)).astype(np.float64)


def panel_samples(results: Iterable[Any], labels: dict, anchors: dict, prefix: str = "") -> dict:
    """{key: per-split outputs} of StitchResults, keyed ``prefix + spec.key``, with the
    robust split's labels (which are not the clean split's) moved into ``labels``."""
    stitches = {}
    for r in results:
        splits = {}
        for split, entry in r.samples.items():
            entry = dict(entry)
            if "labels" in entry:
                labels.setdefault(split, entry.pop("labels"))
            splits[split] = entry
        stitches[prefix + r.spec.key] = splits
    return stitches


def samples_path(name: str) -> Path:
    return Path("reports/samples") / f"{name}.pt"
