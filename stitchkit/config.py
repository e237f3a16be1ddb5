"""Reading params.yaml into validated jobs; every problem is a one-line UserError."""

from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from stitchkit.errors import UserError
from stitchkit.models import ARCHITECTURES
from stitchkit.training import Recipe

PARAMS_FILE = Path("params.yaml")
MODEL_KEYS = {"dataset", "arch", "seed", "width", "train"}


def load_params(path=PARAMS_FILE) -> dict:
    if not Path(path).exists():
        raise UserError(f"{path} not found; run stages from the repository root")
    return yaml.safe_load(Path(path).read_text()) or {}


def _section(params: dict, name: str) -> dict:
    section = params.get(name)
    if not isinstance(section, dict):
        raise UserError(f"params.yaml has no `{name}:` mapping; add one (see README)")
    return section


def recipe_from(options: dict, where: str) -> Recipe:
    known = {f.name for f in fields(Recipe)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise UserError(f"unknown key(s) {unknown} in {where}; known: {sorted(known)}")
    if isinstance(options.get("lr_drops"), list):
        options = {**options, "lr_drops": tuple(options["lr_drops"])}
    return Recipe(**options)


@dataclass(frozen=True)
class TrainingJob:
    model_id: str
    dataset: str
    arch: str
    seed: int
    width: int
    recipe: Recipe


def training_job(params: dict, model_id: str) -> TrainingJob:
    """The validated training job for ``models.<model_id>`` with the shared `train:` recipe."""
    models = _section(params, "models")
    if model_id not in models:
        raise UserError(f"model id {model_id!r} is not under `models:` in params.yaml")
    entry = models[model_id]
    missing = sorted({"dataset", "arch", "seed", "width"} - set(entry))
    unknown = sorted(set(entry) - MODEL_KEYS)
    if missing or unknown:
        raise UserError(
            f"models.{model_id} needs keys dataset, arch, seed, width "
            f"(missing {missing}, unknown {unknown})"
        )
    if entry["arch"] not in ARCHITECTURES:
        raise UserError(
            f"models.{model_id}: unknown architecture {entry['arch']!r}; "
            f"choose one of {sorted(ARCHITECTURES)}"
        )
    datasets = _section(params, "datasets")
    if entry["dataset"] not in datasets:
        raise UserError(
            f"models.{model_id}: dataset {entry['dataset']!r} is not under `datasets:` "
            f"in params.yaml; add it there or pick one of {sorted(datasets)}"
        )
    if not isinstance(entry["width"], int) or entry["width"] < 1:
        raise UserError(f"models.{model_id}.width must be a positive integer")
    recipe = recipe_from(
        {**_section(params, "train"), **entry.get("train", {})}, f"train / models.{model_id}.train"
    )
    return TrainingJob(
        model_id, entry["dataset"], entry["arch"], int(entry["seed"]), entry["width"], recipe
    )
