"""Reading params.yaml into validated jobs; every problem is a one-line UserError."""

from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from stitchkit.errors import UserError
from stitchkit.models import ARCHITECTURES, NUM_POINTS
from stitchkit.objectives import MODES, fula_weights
from stitchkit.stitching import StitchRecipe
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


PANEL_KEYS = {"front", "end", "data", "points", "front_points", "end_points", "modes"}
DEFAULT_MODES = {mode: {} for mode in MODES}


@dataclass(frozen=True)
class PanelJob:
    """A stitching panel: front/end model ids, stitch-training data, the (front point,
    end point) pairs to stitch, and the modes."""

    name: str
    front: str
    end: str
    data: str
    pairs: tuple[tuple[int, int], ...]
    modes: dict  # label -> {"objective": str, "weights": spec or None}
    recipe: StitchRecipe


def _modes(name: str, modes) -> dict:
    if not isinstance(modes, dict) or not modes:
        raise UserError(f"panels.{name}.modes must map mode labels to options, e.g. {{hint: {{}}}}")
    out = {}
    for label, options in modes.items():
        options = dict(options or {})
        objective = options.pop("objective", label)
        weights = options.pop("weights", None)
        if options:
            raise UserError(f"panels.{name}.modes.{label}: unknown key(s) {sorted(options)}")
        if objective not in MODES:
            raise UserError(
                f"panels.{name}: unknown stitching mode {objective!r}; choose one of {list(MODES)}"
            )
        if weights is not None and objective != "fula":
            raise UserError(f"panels.{name}.modes.{label}: weights apply to fula only")
        out[label] = {"objective": objective, "weights": weights}
    return out


def _points(name: str, key: str, points) -> list[int]:
    if (
        not isinstance(points, list)
        or not points
        or any(not isinstance(k, int) or not 1 <= k <= NUM_POINTS for k in points)
    ):
        raise UserError(
            f"panels.{name}.{key} must be a list of stitching points in 1..{NUM_POINTS}, "
            f"got {points!r}"
        )
    return points


def panel_job(params: dict, name: str) -> PanelJob:
    """The validated stitching panel ``panels.<name>`` with the shared `stitch:` recipe."""
    panels = _section(params, "panels")
    if name not in panels:
        raise UserError(f"panel {name!r} is not under `panels:` in params.yaml")
    entry = panels[name]
    missing, unknown = (
        sorted({"front", "end", "data"} - set(entry)),
        sorted(set(entry) - PANEL_KEYS),
    )
    cross = {"front_points", "end_points"} & set(entry)
    if missing or unknown or ("points" in entry) == bool(cross) or len(cross) == 1:
        raise UserError(
            f"panels.{name} needs keys front, end, data and either points (i = j) or both "
            f"front_points and end_points (all pairs) (missing {missing}, unknown {unknown})"
        )
    models = _section(params, "models")
    for role in ("front", "end"):
        if entry[role] not in models:
            raise UserError(f"panels.{name}.{role}: model {entry[role]!r} is not under `models:`")
    if entry["data"] not in _section(params, "datasets"):
        raise UserError(f"panels.{name}.data: dataset {entry['data']!r} is not under `datasets:`")
    keys = ("points",) if "points" in entry else ("front_points", "end_points")
    lists = {key: _points(name, key, entry[key]) for key in keys}
    if "points" in entry:
        pairs = tuple((k, k) for k in lists["points"])
    else:
        pairs = tuple((i, j) for i in lists["front_points"] for j in lists["end_points"])
    modes = _modes(name, entry.get("modes", DEFAULT_MODES))
    for label, mode in modes.items():
        if mode["objective"] == "fula":
            for k in sorted({j for _, j in pairs}):
                try:
                    fula_weights(mode["weights"] or "uniform", NUM_POINTS - k + 2)
                except UserError as exc:
                    raise UserError(f"panels.{name}.modes.{label} at point {k}: {exc}") from None
    options = dict(_section(params, "stitch"))
    known = {f.name for f in fields(StitchRecipe)}
    if set(options) - known:
        raise UserError(
            f"unknown key(s) {sorted(set(options) - known)} in stitch; known: {sorted(known)}"
        )
    return PanelJob(
        name,
        entry["front"],
        entry["end"],
        entry["data"],
        pairs,
        modes,
        StitchRecipe(**options),
    )
