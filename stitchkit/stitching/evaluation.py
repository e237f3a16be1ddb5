"""Scoring a panel's stitches and whole models on the test splits: accuracy, v2's
agreement with the end model, per-sample outputs and robust accuracy, in eval mode.

PanelEvaluator holds the front and end models prepared for the device and precision
(frozen, in eval mode); stitchkit.stitching.trainer.PanelTrainer trains on the same
models and scores through it.
"""

import torch
from torch import nn
from tqdm import tqdm

from stitchkit.common.errors import UserError
from stitchkit.common.precision import FP32, Precision
from stitchkit.common.sampling import seeded_subset
from stitchkit.data import shortcuts
from stitchkit.data.augment import to_unit_float
from stitchkit.data.prepared import PreparedDataset
from stitchkit.measures.agreement import METRICS as AGREEMENT_METRICS
from stitchkit.measures.agreement import AgreementTally
from stitchkit.measures.robustness import RobustEvaluation, robust_accuracy
from stitchkit.models.stitchable import Stitchable
from stitchkit.stitching import bn_state
from stitchkit.stitching.recipe import FittedStitch, StitchRecipe
from stitchkit.stitching.stitched_model import StitchedModel


def check_compatible(front: Stitchable, end: Stitchable, data: PreparedDataset) -> None:
    """Front, end and data must agree on the input shape; the end on the classes."""
    shapes = {
        "front": tuple(front.input_shape),
        "end": tuple(end.input_shape),
        "data": tuple(data.image_shape),
    }
    if len(set(shapes.values())) != 1:
        raise UserError(
            f"front, end and stitching data must share one input shape, got {shapes}; "
            "stitch models trained on inputs of the same shape"
        )
    if end.num_classes != data.num_classes:
        raise UserError(
            f"the end model has {end.num_classes} classes but the stitching data "
            f"has {data.num_classes}; stitch on data of the end model's task"
        )


class PanelEvaluator:
    """Scores stitches of ``front`` into ``end`` (and whole models) on ``data``'s test
    splits, ``recipe.eval_samples`` of them in batches of ``recipe.eval_batch_size``,
    in ``precision``; robust accuracy under ``robust``, if given."""

    def __init__(
        self,
        front,
        end,
        data: PreparedDataset,
        recipe: StitchRecipe,
        device,
        robust: RobustEvaluation | None = None,
        precision: Precision = FP32,
    ):
        check_compatible(front, end, data)
        self.device = torch.device(device)
        self.front, self.end = (precision.prepare(model.to(device)) for model in (front, end))
        for model in (self.front, self.end):
            model.requires_grad_(False).eval()
        self.data, self.recipe, self.robust, self.precision = data, recipe, robust, precision
        self.shortcut = shortcuts.shortcut_of(data)
        self._test_splits = {}

    def evaluation_split(self, split: str = "clean") -> tuple[torch.Tensor, torch.Tensor]:
        """(images, labels) of the ``eval_samples`` test images of a split (shortcuts.py)."""
        if split not in self._test_splits:
            images, labels = shortcuts.evaluation_split(self.data, split)
            keep = seeded_subset(len(labels), self.recipe.eval_samples, 0)
            self._test_splits[split] = images[keep], labels[keep]
        return self._test_splits[split]

    def stitched_model(self, stitch: FittedStitch) -> StitchedModel:
        s = stitch.spec
        return StitchedModel(
            self.front,
            stitch.layer,
            self.end,
            s.front_point,
            s.end_point,
            stitch.end_bn,
            stitch.front_bn,
        )

    @torch.no_grad()
    def evaluate(
        self, stitches: list[FittedStitch], split: str = "clean", progress: bool = True
    ) -> list[dict]:
        """Per stitch, on a test split, in eval mode: accuracy and the agreement of the
        stitched model with the end model (stitchkit.measures.agreement), and ``per_sample``: its
        prediction and agreement on every test image (AgreementTally). Stitches that share the
        front's statistics share one front pass; the end model runs once per batch."""
        if not stitches:
            return []
        images, labels = self.evaluation_split(split)
        self.front.eval()
        self.end.eval()
        points = sorted({s.spec.front_point for s in stitches if s.front_bn is None})
        tallies = [AgreementTally() for _ in stitches]
        size = self.recipe.eval_batch_size
        starts = range(0, len(labels), size)
        bar = f"score {len(stitches)} stitch(es), {split}"
        for start in tqdm(starts, desc=bar, unit="batch", leave=False, disable=not progress):
            x = self.precision.images(to_unit_float(images[start : start + size].to(self.device)))
            y = labels[start : start + size].to(self.device)
            with self.precision.autocast():
                end_logits = self.end(x)
                shared = self.front.activations(x, points) if points else {}
                for tally, stitch in zip(tallies, stitches, strict=True):
                    if stitch.front_bn is None:
                        s = stitch.spec
                        with bn_state.swapped(self.end, stitch.end_bn):
                            logits = self.end.forward_from(
                                stitch.layer(shared[s.front_point]), s.end_point
                            )
                    else:
                        logits = self.stitched_model(stitch)(x)
                    tally.add(logits, end_logits, y)
        return [tally.scores() | {"per_sample": tally.per_sample()} for tally in tallies]

    def evaluate_all(self, stitches: list[FittedStitch], progress: bool = True) -> list[dict]:
        """Per stitch: test_accuracy and its agreement with the end model on the clean
        test split; with a shortcut, also shortcut_ and rolled_accuracy and the agreement
        on those splits; with robust evaluation settings, robust_accuracy and the EOT
        samples its attack used (else None) and the agreement on the attacked test
        images (split "robust"); ``samples``:
        per split, the per-sample outputs (see evaluate; "robust" also has ``correct``)."""
        splits = ("clean", "shortcut", "rolled") if self.shortcut else ("clean",)
        by_split = {split: self.evaluate(stitches, split, progress) for split in splits}
        scores = []
        for n, stitch in enumerate(stitches):
            score = {
                "test_accuracy": by_split["clean"][n]["accuracy"],
                "shortcut_accuracy": None,
                "rolled_accuracy": None,
                "robust_accuracy": None,
                "eot_iterations_used": None,
                "agreement": {},
                "samples": {},
            }
            for split, results in by_split.items():
                if split != "clean":
                    score[f"{split}_accuracy"] = results[n]["accuracy"]
                score["agreement"][split] = {m: results[n][m] for m in AGREEMENT_METRICS}
                score["samples"][split] = results[n]["per_sample"]
            if self.robust is not None:
                robust = self.robust_scores(self.stitched_model(stitch), reference=self.end)
                score["robust_accuracy"] = robust["robust_accuracy"]
                score["eot_iterations_used"] = robust["eot_iterations_used"]
                score["agreement"]["robust"] = robust["agreement"]
                score["samples"]["robust"] = robust["per_sample"]
            scores.append(score)
        return scores

    def robust_scores(self, model: nn.Module, reference: nn.Module | None = None) -> dict:
        """``robust_accuracy``'s result for ``model`` on the clean test split (with its
        agreement with ``reference`` on the attacked images, if given)."""
        images, labels = shortcuts.evaluation_split(self.data, "clean")
        return robust_accuracy(model, images, labels, self.robust, self.device, reference)

    def model_accuracy(self, model: Stitchable, split: str = "clean") -> float:
        return self.model_scores(model, split)["accuracy"]

    @torch.no_grad()
    def model_scores(self, model: Stitchable, split: str = "clean") -> dict:
        """A whole model's accuracy on a test split and its agreement with the end model
        (the anchors of v2's figures: the end with itself, the front with the end), and
        ``per_sample`` as in evaluate."""
        images, labels = self.evaluation_split(split)
        model.eval()
        self.end.eval()
        tally, size = AgreementTally(), self.recipe.eval_batch_size
        for start in range(0, len(labels), size):
            x = self.precision.images(to_unit_float(images[start : start + size].to(self.device)))
            y = labels[start : start + size].to(self.device)
            with self.precision.autocast():
                tally.add(model(x), self.end(x), y)
        return tally.scores() | {"per_sample": tally.per_sample()}
