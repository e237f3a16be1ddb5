"""params.yaml's `models:` and `train:`: each base model's validated training job."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from stitchkit.common.errors import UserError
from stitchkit.common.params_file import merged, section_entry
from stitchkit.common.schema import Int, PositiveInt, Str, section
from stitchkit.data.params import check_dataset
from stitchkit.models.architectures import ARCHITECTURES
from stitchkit.models.training import Recipe


@section
class ModelEntry:
    """`models.<id>`: a base model trained on ``dataset`` (a dataset, or a shortcut
    setting: a biased model); ``train`` overrides keys of the shared `train:`, and
    ``robust_eval`` those of `robust_eval:` for the model's own robust accuracy."""

    dataset: Str
    arch: Literal[tuple(ARCHITECTURES)]
    seed: Int
    width: PositiveInt
    depth: PositiveInt | None = None  # a ViT's blocks (default: the architecture's)
    patch: PositiveInt | None = None  # a ViT's patch size (default: the architecture's)
    train: dict[Str, Any] = field(default_factory=dict)
    robust_eval: dict[Str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingJob:
    model_id: str
    dataset: str
    arch: str
    seed: int
    width: int
    depth: int | None
    patch: int | None
    recipe: Recipe


def _model_entry(params: dict, model_id: str) -> ModelEntry:
    entry = section_entry(params, "models", model_id, ModelEntry)
    try:
        ARCHITECTURES[entry.arch].check(entry.arch, entry.width, entry.depth, entry.patch)
    except UserError as exc:
        raise UserError(f"models.{model_id}: {exc}") from None
    return entry


def model_points(params: dict, model_id: str) -> int:
    """The number of stitching points of model ``models.<model_id>``."""
    entry = _model_entry(params, model_id)
    return ARCHITECTURES[entry.arch].num_points(entry.depth)


def training_job(params: dict, model_id: str) -> TrainingJob:
    """The validated training job for ``models.<model_id>`` with the shared `train:` recipe."""
    entry = _model_entry(params, model_id)
    known = [*(params.get("datasets") or {}), *(params.get("shortcuts") or {})]
    if entry.dataset not in known:
        raise UserError(
            f"models.{model_id}.dataset: {entry.dataset!r} is under neither `datasets:` nor "
            f"`shortcuts:`; add it there or pick one of {sorted(known)}"
        )
    recipe = merged(
        Recipe, params.get("train") or {}, entry.train, "train", f"models.{model_id}.train"
    )
    if recipe.simclr is not None and entry.dataset in (params.get("shortcuts") or {}):
        raise UserError(
            f"models.{model_id}.train.simclr: SimCLR trains on a clean dataset, not on the "
            f"shortcut setting {entry.dataset!r}; give it the setting's source"
        )
    return TrainingJob(
        model_id,
        entry.dataset,
        entry.arch,
        entry.seed,
        entry.width,
        entry.depth,
        entry.patch,
        recipe,
    )


def model_ids(params: dict) -> list[str]:
    """The ids under `models:`, in params.yaml order."""
    return list(params.get("models") or {})


def check_points(params: dict, where: str, model_id: str, points: Iterable[int]) -> None:
    """Every point of ``points`` (written at ``where``) is one of the model's."""
    n = model_points(params, model_id)
    beyond = [k for k in points if k > n]
    if beyond:
        arch = params["models"][model_id]["arch"]
        raise UserError(
            f"{where}: point {beyond[0]} is beyond the {n} stitching points of model "
            f"{model_id!r} ({arch}); use points 1..{n}"
        )


def check_models_and_data(params: dict, where: str, entry: Any) -> None:
    models = params.get("models") or {}
    for role in ("front", "end"):
        model = getattr(entry, role)
        if model not in models:
            raise UserError(f"{where}.{role}: model {model!r} is not under `models:`")
    check_dataset(params, f"{where}.data", entry.data)
