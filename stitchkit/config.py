"""Reading params.yaml into validated jobs; every problem is a one-line UserError."""

from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from stitchkit.attacks import AdversarialTraining
from stitchkit.errors import UserError
from stitchkit.models import ARCHITECTURES, NUM_POINTS
from stitchkit.objectives import MODES, fula_weights
from stitchkit.robustness import RobustEvaluation
from stitchkit.shortcuts import ShortcutSetting
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
    if options.get("adversarial") is not None:
        adversarial = AdversarialTraining.from_params(
            options["adversarial"], f"{where}.adversarial"
        )
        options = {**options, "adversarial": adversarial}
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


def model_ids(params: dict) -> list[str]:
    """The ids under `models:`, in params.yaml order."""
    return list(_section(params, "models"))


def shortcut_setting(params: dict, name: str) -> ShortcutSetting:
    """The validated shortcut setting ``shortcuts.<name>``; its source is a prepared dataset."""
    shortcuts = _section(params, "shortcuts")
    if name not in shortcuts:
        raise UserError(f"shortcut setting {name!r} is not under `shortcuts:` in params.yaml")
    entry = dict(shortcuts[name] or {})
    known = {f.name for f in fields(ShortcutSetting)}
    if "source" not in entry or "kind" not in entry or set(entry) - known:
        raise UserError(
            f"shortcuts.{name} needs keys source and kind, optionally {sorted(known)} "
            f"(unknown {sorted(set(entry) - known)})"
        )
    if entry["source"] in (params.get("shortcuts") or {}) or entry["source"] not in _section(
        params, "datasets"
    ):
        raise UserError(
            f"shortcuts.{name}.source: {entry['source']!r} is not under `datasets:`; "
            "shortcuts are added to a clean prepared dataset"
        )
    try:
        return ShortcutSetting(**entry)
    except UserError as exc:
        raise UserError(f"shortcuts.{name}: {exc}") from None


def dataset_stage(params: dict, name: str) -> str:
    """The DVC stage that writes data/prepared/<name>.pt."""
    return f"shortcut@{name}" if name in (params.get("shortcuts") or {}) else f"prepare@{name}"


def stitching_datasets(params: dict) -> set[str]:
    """Names a panel may stitch on: prepared datasets and shortcut settings."""
    return set(_section(params, "datasets")) | set(params.get("shortcuts") or {})


PANEL_KEYS = {
    "front",
    "end",
    "data",
    "points",
    "front_points",
    "end_points",
    "modes",
    "adversarial",
    "stitch",  # the panel's own overrides of the `stitch:` recipe
}
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
    adversarial: AdversarialTraining | None = None  # set: adversarial testbed panel


def _modes(where: str, modes) -> dict:
    if not isinstance(modes, dict) or not modes:
        raise UserError(f"{where}.modes must map mode labels to options, e.g. {{hint: {{}}}}")
    out = {}
    for label, options in modes.items():
        options = dict(options or {})
        objective = options.pop("objective", label)
        weights = options.pop("weights", None)
        if options:
            raise UserError(f"{where}.modes.{label}: unknown key(s) {sorted(options)}")
        if objective not in MODES:
            raise UserError(
                f"{where}: unknown stitching mode {objective!r}; choose one of {list(MODES)}"
            )
        if weights is not None and objective != "fula":
            raise UserError(f"{where}.modes.{label}: weights apply to fula only")
        out[label] = {"objective": objective, "weights": weights}
    return out


def _points(where: str, key: str, points) -> list[int]:
    if (
        not isinstance(points, list)
        or not points
        or any(not isinstance(k, int) or not 1 <= k <= NUM_POINTS for k in points)
    ):
        raise UserError(
            f"{where}.{key} must be a list of stitching points in 1..{NUM_POINTS}, got {points!r}"
        )
    return points


def _check_models_and_data(params: dict, where: str, entry: dict) -> None:
    models = _section(params, "models")
    for role in ("front", "end"):
        if entry[role] not in models:
            raise UserError(f"{where}.{role}: model {entry[role]!r} is not under `models:`")
    if entry["data"] not in stitching_datasets(params):
        raise UserError(
            f"{where}.data: {entry['data']!r} is under neither `datasets:` nor `shortcuts:`"
        )


def _checked_modes(where: str, modes, end_points) -> dict:
    modes = _modes(where, modes)
    for label, mode in modes.items():
        if mode["objective"] == "fula":
            for k in sorted(set(end_points)):
                try:
                    fula_weights(mode["weights"] or "uniform", NUM_POINTS - k + 2)
                except UserError as exc:
                    raise UserError(f"{where}.modes.{label} at point {k}: {exc}") from None
    return modes


def stitch_recipe(params: dict, overrides: dict | None = None) -> StitchRecipe:
    """The shared `stitch:` recipe of every panel, with a panel's own ``overrides``."""
    options = {**_section(params, "stitch"), **(overrides or {})}
    known = {f.name for f in fields(StitchRecipe)}
    if set(options) - known:
        raise UserError(
            f"unknown key(s) {sorted(set(options) - known)} in stitch; known: {sorted(known)}"
        )
    return StitchRecipe(**options)


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
    _check_models_and_data(params, f"panels.{name}", entry)
    keys = ("points",) if "points" in entry else ("front_points", "end_points")
    lists = {key: _points(f"panels.{name}", key, entry[key]) for key in keys}
    if "points" in entry:
        pairs = tuple((k, k) for k in lists["points"])
    else:
        pairs = tuple((i, j) for i in lists["front_points"] for j in lists["end_points"])
    modes = _checked_modes(
        f"panels.{name}", entry.get("modes", DEFAULT_MODES), [j for _, j in pairs]
    )
    adversarial = None
    if "adversarial" in entry:
        adversarial = AdversarialTraining.from_params(
            entry["adversarial"], f"panels.{name}.adversarial"
        )
    return PanelJob(
        name,
        entry["front"],
        entry["end"],
        entry["data"],
        pairs,
        modes,
        stitch_recipe(params, entry.get("stitch")),
        adversarial,
    )


def robust_evaluation(params: dict) -> RobustEvaluation:
    """The `robust_eval:` settings of every robust accuracy (Table 1, adversarial panels)."""
    options = _section(params, "robust_eval")
    known = {f.name for f in fields(RobustEvaluation)}
    if set(options) - known:
        raise UserError(
            f"unknown key(s) {sorted(set(options) - known)} in robust_eval; known: {sorted(known)}"
        )
    return RobustEvaluation(**options)


SUBSET_KEYS = {"front", "end", "data", "point", "classes", "modes"}


@dataclass(frozen=True)
class SubsetJob:
    """Stitching on the first k classes ("CIFAR-k") for each k in ``classes``, at one
    stitching point (i = j), scored on every class."""

    name: str
    front: str
    end: str
    data: str
    point: int
    classes: tuple[int, ...]
    modes: dict
    recipe: StitchRecipe

    @property
    def pairs(self) -> tuple[tuple[int, int], ...]:
        return ((self.point, self.point),)


def subset_job(params: dict, name: str) -> SubsetJob:
    """The validated class-subset series ``subsets.<name>``."""
    subsets = _section(params, "subsets")
    if name not in subsets:
        raise UserError(f"class-subset series {name!r} is not under `subsets:` in params.yaml")
    entry = subsets[name]
    missing = sorted({"front", "end", "data", "point", "classes"} - set(entry))
    unknown = sorted(set(entry) - SUBSET_KEYS)
    if missing or unknown:
        raise UserError(
            f"subsets.{name} needs keys front, end, data, point, classes, optionally modes "
            f"(missing {missing}, unknown {unknown})"
        )
    where = f"subsets.{name}"
    _check_models_and_data(params, where, entry)
    point = entry["point"]
    if not isinstance(point, int) or not 1 <= point <= NUM_POINTS:
        raise UserError(f"{where}.point must be a stitching point in 1..{NUM_POINTS}, got {point}")
    classes = entry["classes"]
    if (
        not isinstance(classes, list)
        or not classes
        or any(not isinstance(k, int) or k < 1 for k in classes)
    ):
        raise UserError(f"{where}.classes must be a list of class counts k >= 1, got {classes!r}")
    modes = _checked_modes(where, entry.get("modes", DEFAULT_MODES), [point])
    return SubsetJob(
        name,
        entry["front"],
        entry["end"],
        entry["data"],
        point,
        tuple(classes),
        modes,
        stitch_recipe(params),
    )


@dataclass(frozen=True)
class GridJob:
    """A grid figure of stitching plots: ``panels[r][c]`` drawn in row r, column c."""

    name: str
    title: str
    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    panels: tuple[tuple[str, ...], ...]
    modes: tuple[str, ...] | None = None  # draw only these modes


def grid_job(params: dict, name: str) -> GridJob:
    """The validated grid figure ``grids.<name>``: {title, columns: [labels],
    rows: {label: [one panel per column]}, optionally modes: [labels to draw]}."""
    grids = _section(params, "grids")
    if name not in grids:
        raise UserError(f"grid figure {name!r} is not under `grids:` in params.yaml")
    entry = grids[name]
    if not {"title", "columns", "rows"} <= set(entry) <= {"title", "columns", "rows", "modes"}:
        raise UserError(f"grids.{name} needs the keys title, columns and rows, optionally modes")
    modes = entry.get("modes")
    if modes is not None and (not isinstance(modes, list) or not modes):
        raise UserError(f"grids.{name}.modes must be a list of mode labels, got {modes!r}")
    columns, rows = entry["columns"], entry["rows"]
    if (
        not isinstance(rows, dict)
        or not rows
        or any(not isinstance(row, list) or len(row) != len(columns) for row in rows.values())
    ):
        raise UserError(
            f"grids.{name}.rows must map each row label to a list of {len(columns)} panels, "
            "one per column"
        )
    panels = _section(params, "panels")
    unknown = sorted({p for row in rows.values() for p in row} - set(panels))
    if unknown:
        raise UserError(f"grids.{name}: panel(s) {unknown} are not under `panels:`")
    return GridJob(
        name,
        str(entry["title"]),
        tuple(rows),
        tuple(columns),
        tuple(tuple(row) for row in rows.values()),
        tuple(modes) if modes else None,
    )


@dataclass(frozen=True)
class SimilarityJob:
    """Fig. 6: per configuration label, an adversarial panel (i = j) with a ``dm`` mode and
    the FuLA mode ``mode``; CKA is computed on ``samples`` adversarial test images."""

    name: str
    title: str
    panels: dict  # configuration label -> PanelJob
    mode: str
    samples: int


def similarity_job(params: dict, name: str) -> SimilarityJob:
    """The validated Fig. 6-style figure ``similarities.<name>``."""
    figures = _section(params, "similarities")
    if name not in figures:
        raise UserError(f"similarity figure {name!r} is not under `similarities:` in params.yaml")
    entry = figures[name]
    where = f"similarities.{name}"
    if set(entry) != {"title", "panels", "mode", "samples"} or not isinstance(
        entry["panels"], dict
    ):
        raise UserError(
            f"{where} needs title, panels ({{label: panel}}), mode (the FuLA mode label) "
            "and samples"
        )
    if not isinstance(entry["samples"], int) or entry["samples"] < 4:
        raise UserError(f"{where}.samples must be an integer >= 4 (debiased CKA needs 4)")
    jobs = {}
    for label, panel in entry["panels"].items():
        job = panel_job(params, panel)
        if job.adversarial is None or any(i != j for i, j in job.pairs):
            raise UserError(
                f"{where}: panel {panel!r} must be an adversarial panel with points (i = j)"
            )
        if "dm" not in job.modes or job.modes.get(entry["mode"], {}).get("objective") != "fula":
            raise UserError(
                f"{where}: panel {panel!r} needs a dm mode and the fula mode {entry['mode']!r}"
            )
        jobs[label] = job
    return SimilarityJob(name, str(entry["title"]), jobs, entry["mode"], entry["samples"])


def shortcut_examples_job(params: dict, name: str) -> tuple[list[str], int]:
    """(shortcut settings, images per row) of ``shortcut_examples.<name>``."""
    figures = _section(params, "shortcut_examples")
    if name not in figures:
        raise UserError(f"figure {name!r} is not under `shortcut_examples:` in params.yaml")
    entry = figures[name]
    settings, per_row = entry.get("settings"), entry.get("per_row")
    if set(entry) != {"settings", "per_row"} or not isinstance(settings, list) or not settings:
        raise UserError(
            f"shortcut_examples.{name} needs settings (a list of shortcut names) and per_row"
        )
    sources = {shortcut_setting(params, s).source for s in settings}
    if len(sources) != 1:
        raise UserError(f"shortcut_examples.{name}: settings must share one source dataset")
    if not isinstance(per_row, int) or per_row < 1:
        raise UserError(f"shortcut_examples.{name}.per_row must be a positive integer")
    return settings, per_row
