"""Stitching on a subset of classes (Sec. 3.2, Fig. 9): "CIFAR-k".

For each k, the stitches (and their DM initialisation) are fitted on the training
images of the first k classes by label index, then scored on the whole test split.
The recipe's training-image counts must fit the whole training split; on k classes
they are caps.
Each k starts from fresh copies of the front and end models, so BatchNorm statistics
adapted for one k never leak into another.
"""

import copy
from dataclasses import replace
from pathlib import Path

import torch
from tqdm import tqdm

from stitchkit.common.errors import UserError
from stitchkit.common.io import save_torch
from stitchkit.common.precision import FP32, Precision
from stitchkit.common.sampling import check_count
from stitchkit.data.prepared import PreparedDataset
from stitchkit.models.checkpoints import load_training_state
from stitchkit.models.stitchable import Stitchable
from stitchkit.stitching.recipe import StitchRecipe, StitchResult, StitchSpec
from stitchkit.stitching.trainer import PanelTrainer


def fit_on_class_subsets(
    front: Stitchable,
    end: Stitchable,
    data: PreparedDataset,
    specs: list[StitchSpec],
    recipe: StitchRecipe,
    classes: list[int],
    device: torch.device | str,
    checkpoint_dir: Path | None = None,
    precision: Precision = FP32,
    progress: bool = True,
) -> dict[int, list[StitchResult]]:
    """{k: results of ``specs`` fitted on classes 0..k-1} for every k in ``classes``,
    in ``precision``.

    With ``checkpoint_dir``, each finished k is saved there and an interrupted run
    resumes: finished k are reloaded, the running one continues from its last epoch.
    """
    outside = [k for k in classes if not 1 <= k <= data.num_classes]
    if outside:
        raise UserError(
            f"class counts {outside} are outside 1..{data.num_classes}, the number of classes "
            "of the stitching data; use k between 1 and the number of classes"
        )
    for key in ("train_samples", "dm_samples"):
        check_count(
            f"stitch.{key}", getattr(recipe, key), len(data.train_labels), "training images"
        )
    results = {}
    for k in tqdm(classes, desc="classes", unit="subset", disable=not progress):
        subset = data.first_classes(k)
        trainer = PanelTrainer(
            copy.deepcopy(front),
            copy.deepcopy(end),
            subset,
            specs,
            within(recipe, len(subset.train_labels)),
            device,
            precision=precision,
        )
        done = checkpoint_dir and Path(checkpoint_dir) / f"classes-{k}.pt"
        fingerprint = trainer.fingerprint()  # before fitting changes BatchNorm statistics
        saved = load_training_state(done) if done else None
        if saved is not None and saved["fingerprint"] == fingerprint:
            results[k] = [
                StitchResult.from_state(spec, state, device)
                for spec, state in zip(specs, saved["results"], strict=True)
            ]
            continue
        running = done and Path(checkpoint_dir) / f"classes-{k}-epochs.pt"
        results[k] = trainer.fit(checkpoint_path=running, progress=progress)
        if done:
            save_torch(
                {
                    "fingerprint": fingerprint,
                    "results": [r.state() for r in results[k]],
                },
                done,
            )
            running.unlink(missing_ok=True)
    return results


def within(recipe: StitchRecipe, available: int) -> StitchRecipe:
    """``recipe`` with its training-image counts capped at a subset's ``available``
    images: on k classes the counts are "at most" (they were checked against the whole
    training split)."""
    capped = {
        key: min(getattr(recipe, key), available)
        for key in ("train_samples", "dm_samples")
        if getattr(recipe, key) is not None
    }
    return replace(recipe, **capped)
