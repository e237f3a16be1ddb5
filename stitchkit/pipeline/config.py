"""params.yaml: the schema of every section, and the validated jobs that stages run.

`load_params` reads the file and checks all of it before any stage does work: first
the types and ranges of every key (stitchkit.common.schema), then every cross-reference (a
panel's models exist, its FuLA weights fit its points, ...). Any problem is one
UserError that names the key path and what is expected.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, Strict

from stitchkit.common.compute import ComputeSettings
from stitchkit.common.errors import UserError
from stitchkit.common.schema import Bool, Int, PositiveInt, Str, section, validated
from stitchkit.common.strict_yaml import load_yaml
from stitchkit.data.datasets import dataset_options
from stitchkit.data.shortcuts import ShortcutSetting
from stitchkit.measures.agreement import METRICS as AGREEMENT_METRICS
from stitchkit.measures.bootstrap import BootstrapSettings
from stitchkit.measures.robustness import RobustEvaluation
from stitchkit.models.architectures import ARCHITECTURES
from stitchkit.models.attacks import AdversarialTraining
from stitchkit.models.training import Recipe
from stitchkit.report.takeaways import TakeawayThresholds
from stitchkit.stitching.objectives import MODES, fula_weights
from stitchkit.stitching.recipe import StitchRecipe
from stitchkit.testbeds.iris import IriSettings

PARAMS_FILE = Path("params.yaml")
Point = Annotated[int, Strict(), Field(ge=1)]  # at most the model's (model_points)
Points = Annotated[tuple[Point, ...], Field(min_length=1)]
Names = Annotated[tuple[Str, ...], Field(min_length=1)]
# a v2 figure column: [natural panel, IRI panel], or one such pair per front (averaged)
PanelPair = tuple[Str, Str]
FigureColumn = PanelPair | Annotated[list[PanelPair], Field(min_length=1)]


def _weights(value):
    is_number = lambda w: isinstance(w, int | float) and not isinstance(w, bool)  # noqa: E731
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(is_number(w) for w in value):
        return tuple(float(w) for w in value)
    raise ValueError(f"expected uniform, last, first-N or a list of numbers, got {value!r}")


# FuLA's weights: a preset name or one number per hint term
Weights = Annotated[str | tuple[float, ...] | None, PlainValidator(_weights)]


@section
class ModelEntry:
    """`models.<id>`: a base model trained on ``dataset`` (a dataset, or a shortcut
    setting: a biased model); ``train`` overrides keys of the shared `train:`."""

    dataset: Str
    arch: Literal[tuple(ARCHITECTURES)]
    seed: Int
    width: PositiveInt
    depth: PositiveInt | None = None  # a ViT's blocks (default: the architecture's)
    train: dict[Str, Any] = field(default_factory=dict)


@section
class ModeEntry:
    """A stitching mode: its objective (default: its label), FuLA's ``weights`` and
    ``soft`` term, DM's ``recalibrate`` (BatchNorm statistics only, Fig. 3)."""

    objective: Literal[MODES] | None = None
    weights: Weights = None
    soft: Bool = False
    recalibrate: Bool = False


DEFAULT_MODES = {mode: ModeEntry() for mode in MODES}


@section
class PanelEntry:
    """`panels.<name>`: front and end model ids, stitch-training data, and either
    ``points`` (i = j) or ``front_points`` and ``end_points`` (every pair)."""

    front: Str
    end: Str
    data: Str
    points: Points | None = None
    front_points: Points | None = None
    end_points: Points | None = None
    modes: dict[Str, ModeEntry | None] = field(default_factory=lambda: dict(DEFAULT_MODES))
    adversarial: AdversarialTraining | None = None
    stitch: dict[Str, Any] = field(default_factory=dict)

    def __post_init__(self):
        cross = (self.front_points is None, self.end_points is None)
        if (self.points is None) == (cross == (True, True)) or cross[0] != cross[1]:
            raise ValueError(
                "give either points (i = j) or both front_points and end_points (all pairs)"
            )


@section
class IriSetEntry:
    """`iri_sets.<name>`: the IRIs of a front model at one stitching point, made from
    the training images of ``data`` (a dataset or shortcut setting)."""

    front: Str
    data: Str
    point: Point


@section
class SubsetEntry:
    """`subsets.<name>`: stitches fitted on the first k classes, for each k in classes;
    ``stitch`` overrides keys of the shared `stitch:` recipe, as a panel's does."""

    front: Str
    end: Str
    data: Str
    point: Point
    classes: Annotated[tuple[PositiveInt, ...], Field(min_length=1)]
    modes: dict[Str, ModeEntry | None] = field(default_factory=lambda: dict(DEFAULT_MODES))
    stitch: dict[Str, Any] = field(default_factory=dict)


@section
class GridEntry:
    """`grids.<name>`: stitching plots in rows x columns; a cell is a panel, or a list of
    panels of the same front and end drawn together. ``modes``: which to draw (a list,
    or a mapping to legend labels); default all but DM."""

    title: Str
    columns: Names
    rows: dict[Str, tuple[Str | Names, ...]]
    modes: Names | dict[Str, Str] | None = None


@section
class SimilarityEntry:
    """`similarities.<name>` (Fig. 6): per configuration label an adversarial panel
    with a dm mode and the FuLA mode ``mode``; CKA on ``samples`` test images."""

    title: Str
    panels: dict[Str, Str]
    mode: Str
    samples: Annotated[int, Strict(), Field(ge=4)]


@section
class SubsetFigureEntry:
    """`subset_figures.<name>` (Fig. 9): class-subset series side by side."""

    title: Str
    series: Annotated[dict[Str, Str], Field(min_length=1)]


@section
class CrossLayerFigureEntry:
    """`cross_layer_figures.<name>` (Figs. 10, 11): one row of heatmaps per cross-layer
    panel, one column per mode (a list, or a mapping to column labels; default all but
    DM)."""

    title: Str
    rows: Annotated[dict[Str, Str], Field(min_length=1)]
    modes: Names | dict[Str, Str] | None = None


# the test images a v2 figure's agreement is measured on: the clean test split, or the
# attacked ones (robust: each stitch's AutoAttack examples, adversarial panels only)
AGREEMENT_SPLITS = ("clean", "robust")


@section
class AgreementRowEntry:
    """`agreement_figures.<name>.rows.<label>`: a row of ``columns`` (as the figure's
    `columns:`) measured on ``split``'s test images (AGREEMENT_SPLITS)."""

    columns: Annotated[dict[Str, FigureColumn], Field(min_length=1)]
    split: Literal[AGREEMENT_SPLITS] = "clean"


@section
class AgreementFigureEntry:
    """`agreement_figures.<name>` (v2's figures): per column label a pair [panel,
    IRI panel] of the same front, end and data, or a list of such pairs (one per front,
    the same end, data and points: the column is their mean), drawn as ``metric``
    against stitching point, natural data in one colour and IRIs in another; ``modes``
    as in grids. ``columns`` make one row on the clean test split; ``rows`` (instead)
    several, each with its own split (v2's adversarial stitching: alpha = 1 on the
    attacked images).
    ``excess`` (backdoor stitching, panels on shortcut data): ``metric`` on test images
    with their class's marker minus on those with the previous class's."""

    title: Str
    columns: Annotated[dict[Str, FigureColumn], Field(min_length=1)] | None = None
    rows: Annotated[dict[Str, AgreementRowEntry], Field(min_length=1)] | None = None
    metric: Literal[AGREEMENT_METRICS] = "agreement_prob"
    modes: Names | dict[Str, Str] | None = None
    excess: Bool = False

    def __post_init__(self):
        if (self.columns is None) == (self.rows is None):
            raise ValueError("give either `columns:` (one row) or `rows:`, not both or neither")


@section
class CkaFigureEntry:
    """`cka_figures.<name>` (v2's CKA figure): per column label a pair [panel, IRI panel],
    or a list of pairs, as in `agreement_figures:`; debiased linear CKA between front and
    end activations at each point, on ``samples`` natural test images and on the point's
    first ``samples`` IRIs, drawn beside the FuLA mode ``mode``'s agreement
    (agreement_prob)."""

    title: Str
    columns: Annotated[dict[Str, FigureColumn], Field(min_length=1)]
    mode: Str = "fula"
    samples: Annotated[int, Strict(), Field(ge=4)] = 1000


@section
class IriExamplesEntry:
    """`iri_examples.<name>`: source images and their IRIs at each set's point, one
    row per set (the sets of one front and data), ``per_row`` images."""

    sets: Names
    per_row: PositiveInt


@section
class ShortcutExamplesEntry:
    """`shortcut_examples.<name>` (Fig. 7 / 12): example images of shortcut settings."""

    settings: Names
    per_row: PositiveInt


class ParamsFile(BaseModel):
    """Every section of params.yaml and the type of its entries."""

    model_config = ConfigDict(extra="forbid")

    compute: ComputeSettings | None = None
    datasets: dict[Str, dict[Str, Any] | None] = {}
    shortcuts: dict[Str, ShortcutSetting] = {}
    shortcut_examples: dict[Str, ShortcutExamplesEntry] = {}
    train: dict[Str, Any] = {}
    models: dict[Str, ModelEntry] = {}
    robust_eval: RobustEvaluation | None = None
    iris: IriSettings | None = None
    iri_sets: dict[Str, IriSetEntry] = {}
    stitch: dict[Str, Any] = {}
    panels: dict[Str, PanelEntry] = {}
    iri_panels: dict[Str, PanelEntry] = {}
    grids: dict[Str, GridEntry] = {}
    similarities: dict[Str, SimilarityEntry] = {}
    subsets: dict[Str, SubsetEntry] = {}
    subset_figures: dict[Str, SubsetFigureEntry] = {}
    cross_layer_figures: dict[Str, CrossLayerFigureEntry] = {}
    agreement_figures: dict[Str, AgreementFigureEntry] = {}
    cka_figures: dict[Str, CkaFigureEntry] = {}
    iri_examples: dict[Str, IriExamplesEntry] = {}
    takeaways: TakeawayThresholds | None = None
    bootstrap: BootstrapSettings | None = None


def load_params(path=PARAMS_FILE) -> dict:
    """params.yaml, checked in full (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} not found; run stages from the repository root")
    params = load_yaml(path) or {}
    if not isinstance(params, dict):
        raise UserError(f"{path} must map section names (models, panels, ...) to their entries")
    check_params(params)
    return params


def check_params(params: dict) -> None:
    """Check every section's types, then every entry's job (which checks references)."""
    validated(ParamsFile, params, "")
    both = sorted(set(params.get("panels") or {}) & set(params.get("iri_panels") or {}))
    if both:
        raise UserError(
            f"panels {both} are under both `panels:` and `iri_panels:`; rename one (a "
            "panel's results are reports/stitch/<panel>.json)"
        )
    for name, options in (params.get("datasets") or {}).items():
        dataset_options(name, options)
    for name in params.get("shortcuts") or {}:
        shortcut_setting(params, name)
    builders = {
        "models": training_job,
        "iri_sets": iri_set_job,
        "panels": panel_job,
        "iri_panels": panel_job,
        "subsets": subset_job,
        "grids": grid_job,
        "similarities": similarity_job,
        "subset_figures": subset_figure_job,
        "cross_layer_figures": cross_layer_figure_job,
        "shortcut_examples": shortcut_examples_job,
        "agreement_figures": agreement_figure_job,
        "cka_figures": cka_figure_job,
        "iri_examples": iri_examples_job,
    }
    for section_name, build in builders.items():
        for name in params.get(section_name) or {}:
            build(params, name)
    if params.get("robust_eval") is not None:
        robust_evaluation(params)


def _entry(params: dict, section_name: str, name: str, kind):
    """``section_name.name`` validated as ``kind``; a missing entry is a UserError."""
    entries = params.get(section_name) or {}
    if name not in entries:
        raise UserError(f"{name!r} is not under `{section_name}:` in params.yaml")
    return validated(kind, entries[name], f"{section_name}.{name}")


def _merged(kind, shared: dict, overrides: dict, shared_where: str, override_where: str):
    """``kind`` from a shared section with an entry's ``overrides``; an error names the
    key where the bad value was written."""

    def where(path: tuple) -> str:
        if not path and overrides:
            return f"{shared_where} with {override_where}"
        return override_where if path and path[0] in overrides else shared_where

    return validated(kind, {**shared, **overrides}, where)


# -- base models --------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingJob:
    model_id: str
    dataset: str
    arch: str
    seed: int
    width: int
    depth: int | None
    recipe: Recipe


def _model_entry(params: dict, model_id: str) -> ModelEntry:
    entry = _entry(params, "models", model_id, ModelEntry)
    try:
        ARCHITECTURES[entry.arch].check(entry.arch, entry.width, entry.depth)
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
    recipe = _merged(
        Recipe, params.get("train") or {}, entry.train, "train", f"models.{model_id}.train"
    )
    if recipe.simclr is not None and entry.dataset in (params.get("shortcuts") or {}):
        raise UserError(
            f"models.{model_id}.train.simclr: SimCLR trains on a clean dataset, not on the "
            f"shortcut setting {entry.dataset!r}; give it the setting's source"
        )
    return TrainingJob(
        model_id, entry.dataset, entry.arch, entry.seed, entry.width, entry.depth, recipe
    )


def model_ids(params: dict) -> list[str]:
    """The ids under `models:`, in params.yaml order."""
    return list(params.get("models") or {})


# -- data ---------------------------------------------------------------------------
def shortcut_setting(params: dict, name: str) -> ShortcutSetting:
    """The validated shortcut setting ``shortcuts.<name>``; its source is a prepared dataset."""
    setting = _entry(params, "shortcuts", name, ShortcutSetting)
    if setting.source in (params.get("shortcuts") or {}) or setting.source not in (
        params.get("datasets") or {}
    ):
        raise UserError(
            f"shortcuts.{name}.source: {setting.source!r} is not under `datasets:`; "
            "shortcuts are added to a clean prepared dataset"
        )
    return setting


def clean_source(params: dict, name: str) -> str:
    """The clean dataset under ``name``: a shortcut setting's source, or ``name`` itself."""
    shortcuts = params.get("shortcuts") or {}
    return shortcuts[name]["source"] if name in shortcuts else name


def dataset_stage(params: dict, name: str) -> str:
    """The DVC stage that writes data/prepared/<name>.pt."""
    return f"shortcut@{name}" if name in (params.get("shortcuts") or {}) else f"prepare@{name}"


IRIS_DIR = Path("data/iris")


def iris_path(front: str, data: str, point: int) -> Path:
    """Where the IRIs of ``front`` at ``point`` made from ``data`` are stored; a panel
    on IRIs depends on the folder of its front and data."""
    return IRIS_DIR / front / data / f"{point}.pt"


@dataclass(frozen=True)
class IriSetJob:
    """IRIs of ``front`` at ``point`` from the training images of ``data``, made with
    ``settings``."""

    name: str
    front: str
    point: int
    data: str
    settings: IriSettings

    @property
    def path(self) -> Path:
        return iris_path(self.front, self.data, self.point)


def iri_set_job(params: dict, name: str) -> IriSetJob:
    """The validated job of ``iri_sets.<name>``, with the shared `iris:` settings."""
    entry = _entry(params, "iri_sets", name, IriSetEntry)
    where = f"iri_sets.{name}"
    if entry.front not in (params.get("models") or {}):
        raise UserError(f"{where}.front: model {entry.front!r} is not under `models:`")
    _check_dataset(params, f"{where}.data", entry.data)
    _check_points(params, f"{where}.point", entry.front, (entry.point,))
    triple = (entry.front, entry.data, entry.point)
    twins = [n for n, e in (params.get("iri_sets") or {}).items() if _iri_triple(e) == triple]
    if len(twins) > 1:
        raise UserError(
            f"iri_sets {twins} are the same IRIs (front {entry.front}, data {entry.data}, "
            f"point {entry.point}); keep one"
        )
    settings = validated(IriSettings, params.get("iris") or {}, "iris")
    return IriSetJob(name, entry.front, entry.point, entry.data, settings)


def _iri_triple(entry) -> tuple | None:
    if not isinstance(entry, dict):
        return None
    return entry.get("front"), entry.get("data"), entry.get("point")


def _check_dataset(params: dict, where: str, name: str) -> None:
    datasets = set(params.get("datasets") or {}) | set(params.get("shortcuts") or {})
    if name not in datasets:
        raise UserError(f"{where}: {name!r} is under neither `datasets:` nor `shortcuts:`")


def _check_models_and_data(params: dict, where: str, entry) -> None:
    models = params.get("models") or {}
    for role in ("front", "end"):
        model = getattr(entry, role)
        if model not in models:
            raise UserError(f"{where}.{role}: model {model!r} is not under `models:`")
    _check_dataset(params, f"{where}.data", entry.data)


def _check_points(params: dict, where: str, model_id: str, points) -> None:
    """Every point of ``points`` (written at ``where``) is one of the model's."""
    n = model_points(params, model_id)
    beyond = [k for k in points if k > n]
    if beyond:
        arch = params["models"][model_id]["arch"]
        raise UserError(
            f"{where}: point {beyond[0]} is beyond the {n} stitching points of model "
            f"{model_id!r} ({arch}); use points 1..{n}"
        )


# -- stitching ----------------------------------------------------------------------
def _modes(where: str, modes: dict, end_points, bn: str, end_num_points: int) -> dict:
    """label -> {objective, weights, soft, recalibrate}, checked at every end point."""
    out = {}
    for label, mode in modes.items():
        mode = mode or ModeEntry()
        objective = mode.objective or label
        if objective not in MODES:
            raise UserError(
                f"{where}.modes.{label}: unknown stitching mode {objective!r}; give an "
                f"objective, one of {list(MODES)}"
            )
        if (mode.weights is not None or mode.soft) and objective != "fula":
            raise UserError(f"{where}.modes.{label}: weights and soft apply to fula only")
        if mode.recalibrate and (objective != "dm" or bn != "train"):
            raise UserError(f"{where}.modes.{label}: recalibrate needs objective dm and bn: train")
        weights = list(mode.weights) if isinstance(mode.weights, tuple) else mode.weights
        if objective == "fula":
            for k in sorted(set(end_points)):
                try:
                    fula_weights(weights or "uniform", end_num_points - k + 1)
                except UserError as exc:
                    raise UserError(f"{where}.modes.{label} at point {k}: {exc}") from None
        out[label] = {
            "objective": objective,
            "weights": weights,
            "soft": mode.soft,
            "recalibrate": mode.recalibrate,
        }
    return out


def stitch_recipe(params: dict, overrides=None, where: str = "stitch") -> StitchRecipe:
    """The shared `stitch:` recipe of every panel, with a panel's own ``overrides``
    (written at ``where``)."""
    return _merged(StitchRecipe, params.get("stitch") or {}, overrides or {}, "stitch", where)


@dataclass(frozen=True)
class PanelJob:
    """A stitching panel: front/end model ids, stitch-training data, the (front point,
    end point) pairs to stitch, and the modes. An IRI panel (``iris`` set: front point
    -> the name of its IRI set) trains each stitch on the IRIs of its front point, made from
    ``data``, which still gives the DM initialisation and the test splits."""

    name: str
    front: str
    end: str
    data: str
    pairs: tuple[tuple[int, int], ...]
    modes: dict  # label -> {"objective", "weights", "soft", "recalibrate"}
    recipe: StitchRecipe
    adversarial: AdversarialTraining | None = None  # set: adversarial testbed panel
    iris: dict[int, str] | None = None


# the authors' stitching on IRIs: front and end in eval mode (their bn_running_stats: False)
IRI_RECIPE = {"bn": "frozen"}


def panel_section(params: dict, name: str) -> str:
    """`iri_panels` if ``name`` is an IRI panel, else `panels`."""
    return "iri_panels" if name in (params.get("iri_panels") or {}) else "panels"


def panel_job(params: dict, name: str) -> PanelJob:
    """The validated stitching panel ``panels.<name>`` or ``iri_panels.<name>`` with the
    shared `stitch:` recipe (on IRIs: with IRI_RECIPE under the panel's own keys)."""
    section = panel_section(params, name)
    where = f"{section}.{name}"
    entry = _entry(params, section, name, PanelEntry)
    _check_models_and_data(params, where, entry)
    if entry.points is not None:
        pairs = tuple((k, k) for k in entry.points)
        for role in ("front", "end"):
            _check_points(params, f"{where}.points", getattr(entry, role), entry.points)
    else:
        pairs = tuple((i, j) for i in entry.front_points for j in entry.end_points)
        _check_points(params, f"{where}.front_points", entry.front, entry.front_points)
        _check_points(params, f"{where}.end_points", entry.end, entry.end_points)
    iris = None
    overrides = entry.stitch
    if section == "iri_panels":
        iris = {i: _iri_set_name(params, where, entry, i) for i, _ in sorted(set(pairs))}
        overrides = {**IRI_RECIPE, **entry.stitch}
    recipe = stitch_recipe(params, overrides, f"{where}.stitch")
    end_points = model_points(params, entry.end)
    modes = _modes(where, entry.modes, [j for _, j in pairs], recipe.bn, end_points)
    if entry.adversarial is not None and params.get("robust_eval") is None:
        raise UserError(f"{where}.adversarial: adversarial panels need a `robust_eval:` section")
    return PanelJob(
        name, entry.front, entry.end, entry.data, pairs, modes, recipe, entry.adversarial, iris
    )


def _iri_set_name(params: dict, where: str, entry: PanelEntry, point: int) -> str:
    """The IRI set of the panel's front and data at ``point``."""
    triple = (entry.front, entry.data, point)
    for name, iri_set in (params.get("iri_sets") or {}).items():
        if _iri_triple(iri_set) == triple:
            return name
    raise UserError(
        f"{where}: no IRI set of front {entry.front} on {entry.data} at point {point}; "
        f"add {{front: {entry.front}, data: {entry.data}, point: {point}}} under `iri_sets:`"
    )


def robust_evaluation(params: dict) -> RobustEvaluation:
    """The `robust_eval:` settings of every robust accuracy (Table 1, adversarial panels)."""
    if params.get("robust_eval") is None:
        raise UserError(
            "params.yaml has no `robust_eval:` section; add one (see docs/parameters.md)"
        )
    return validated(RobustEvaluation, params["robust_eval"], "robust_eval")


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
    where = f"subsets.{name}"
    entry = _entry(params, "subsets", name, SubsetEntry)
    _check_models_and_data(params, where, entry)
    for role in ("front", "end"):
        _check_points(params, f"{where}.point", getattr(entry, role), [entry.point])
    recipe = stitch_recipe(params, entry.stitch, f"{where}.stitch")
    end_points = model_points(params, entry.end)
    modes = _modes(where, entry.modes, [entry.point], recipe.bn, end_points)
    return SubsetJob(
        name,
        entry.front,
        entry.end,
        entry.data,
        entry.point,
        entry.classes,
        modes,
        recipe,
    )


# -- figures ------------------------------------------------------------------------
def _check_names(params: dict, where: str, section_name: str, names) -> None:
    known = set(params.get(section_name) or {})
    sections = f"`{section_name}:`"
    if section_name == "panels":
        known |= set(params.get("iri_panels") or {})
        sections = "`panels:` or `iri_panels:`"
    unknown = sorted(set(names) - known)
    if unknown:
        raise UserError(f"{where}: {unknown} are not under {sections}")


def _panel_entry(params: dict, name: str) -> PanelEntry:
    return _entry(params, panel_section(params, name), name, PanelEntry)


@dataclass(frozen=True)
class GridJob:
    """A grid figure of stitching plots: ``cells[r][c]`` (one or more panels) drawn in
    row r, column c; ``modes``: (mode, legend label) pairs to draw, or None."""

    name: str
    title: str
    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    cells: tuple[tuple[tuple[str, ...], ...], ...]
    modes: tuple[tuple[str, str | None], ...] | None = None


def grid_job(params: dict, name: str) -> GridJob:
    """The validated grid figure ``grids.<name>``."""
    where = f"grids.{name}"
    entry = _entry(params, "grids", name, GridEntry)
    if not entry.rows or any(len(row) != len(entry.columns) for row in entry.rows.values()):
        raise UserError(
            f"{where}.rows must map each row label to a list of {len(entry.columns)} cells "
            "(a panel, or a list of panels), one per column"
        )
    cells = tuple(
        tuple((cell,) if isinstance(cell, str) else tuple(cell) for cell in row)
        for row in entry.rows.values()
    )
    _check_names(params, where, "panels", [p for row in cells for cell in row for p in cell])
    for cell in (cell for row in cells for cell in row if len(cell) > 1):
        entries = [_panel_entry(params, p) for p in cell]
        labels = [label for e in entries for label in e.modes]
        if len({(e.front, e.end, e.data) for e in entries}) > 1 or len(set(labels)) < len(labels):
            raise UserError(
                f"{where}: the panels {list(cell)} drawn in one cell need the same front, end "
                "and data, and distinct mode labels"
            )
    return GridJob(name, entry.title, tuple(entry.rows), entry.columns, cells, _legend(entry.modes))


def _legend(modes) -> tuple[tuple[str, str | None], ...] | None:
    """(mode, label) pairs from a list of modes or a mapping of modes to labels."""
    if isinstance(modes, dict):
        return tuple(modes.items())
    return None if modes is None else tuple((mode, None) for mode in modes)


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
    where = f"similarities.{name}"
    entry = _entry(params, "similarities", name, SimilarityEntry)
    _check_names(params, where, "panels", entry.panels.values())
    jobs = {}
    for label, panel in entry.panels.items():
        job = panel_job(params, panel)
        if job.adversarial is None or any(i != j for i, j in job.pairs):
            raise UserError(
                f"{where}: panel {panel!r} must be an adversarial panel with points (i = j)"
            )
        if "dm" not in job.modes or job.modes.get(entry.mode, {}).get("objective") != "fula":
            raise UserError(
                f"{where}: panel {panel!r} needs a dm mode and the fula mode {entry.mode!r}"
            )
        jobs[label] = job
    return SimilarityJob(name, entry.title, jobs, entry.mode, entry.samples)


@dataclass(frozen=True)
class SubsetFigureJob:
    name: str
    title: str
    series: dict  # label -> series name


def subset_figure_job(params: dict, name: str) -> SubsetFigureJob:
    """The validated composite class-subset figure ``subset_figures.<name>``."""
    where = f"subset_figures.{name}"
    entry = _entry(params, "subset_figures", name, SubsetFigureEntry)
    _check_names(params, where, "subsets", entry.series.values())
    return SubsetFigureJob(name, entry.title, dict(entry.series))


@dataclass(frozen=True)
class CrossLayerFigureJob:
    name: str
    title: str
    rows: dict  # label -> cross-layer panel name
    modes: tuple[tuple[str, str | None], ...] | None


def cross_layer_figure_job(params: dict, name: str) -> CrossLayerFigureJob:
    """The validated composite cross-layer figure ``cross_layer_figures.<name>``."""
    where = f"cross_layer_figures.{name}"
    entry = _entry(params, "cross_layer_figures", name, CrossLayerFigureEntry)
    _check_names(params, where, "panels", entry.rows.values())
    for panel in entry.rows.values():
        if _panel_entry(params, panel).points is not None:
            raise UserError(f"{where}: panel {panel!r} has points, not front_points and end_points")
    return CrossLayerFigureJob(name, entry.title, dict(entry.rows), _legend(entry.modes))


def shortcut_examples_job(params: dict, name: str) -> tuple[list[str], int]:
    """(shortcut settings, images per row) of ``shortcut_examples.<name>``."""
    where = f"shortcut_examples.{name}"
    entry = _entry(params, "shortcut_examples", name, ShortcutExamplesEntry)
    _check_names(params, where, "shortcuts", entry.settings)
    sources = {shortcut_setting(params, s).source for s in entry.settings}
    if len(sources) != 1:
        raise UserError(f"{where}: settings must share one source dataset")
    return list(entry.settings), entry.per_row


@dataclass(frozen=True)
class AgreementRow:
    """A row of v2's figure: its label ("" for a figure's only row), the test ``split``
    (AGREEMENT_SPLITS), and ``columns``: a label -> its (natural panel, IRI panel)
    pairs, one per front (the column draws their mean)."""

    label: str
    split: str
    columns: dict[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class AgreementFigureJob:
    """v2's figure: its ``rows`` of columns."""

    name: str
    title: str
    rows: tuple[AgreementRow, ...]
    metric: str
    modes: tuple[tuple[str, str | None], ...] | None
    excess: bool = False


def _paired_columns(params: dict, where: str, columns: dict) -> dict:
    """Each column as its (natural panel, IRI panel) pairs: a pair shares one front, end
    and data; the pairs of a column share the end, data and points."""
    paired = {}
    for label, column in columns.items():
        at = f"{where}.columns.{label}"
        pairs = (column,) if isinstance(column, tuple) else tuple(column)
        for natural, iris in pairs:
            if natural not in (params.get("panels") or {}):
                raise UserError(f"{at}: {natural!r} is not under `panels:` (give it first)")
            if iris not in (params.get("iri_panels") or {}):
                raise UserError(f"{at}: {iris!r} is not under `iri_panels:` (give it second)")
            entries = [_panel_entry(params, p) for p in (natural, iris)]
            if len({(e.front, e.end, e.data) for e in entries}) > 1:
                raise UserError(f"{at}: {natural} and {iris} need the same front, end and data")
        if len(pairs) > 1:
            jobs = [panel_job(params, natural) for natural, _ in pairs]
            if len({(job.end, job.data, job.pairs) for job in jobs}) > 1:
                raise UserError(
                    f"{at}: the pairs of a column are averaged, so their panels need the same "
                    "end, data and points"
                )
        paired[label] = pairs
    return paired


def agreement_figure_job(params: dict, name: str) -> AgreementFigureJob:
    """The validated figure ``agreement_figures.<name>``."""
    where = f"agreement_figures.{name}"
    entry = _entry(params, "agreement_figures", name, AgreementFigureEntry)
    entries = {"": AgreementRowEntry(entry.columns)} if entry.rows is None else entry.rows
    shortcuts = params.get("shortcuts") or {}
    rows = []
    for label, row in entries.items():
        at = where if entry.rows is None else f"{where}.rows.{label}"
        columns = _paired_columns(params, at, row.columns)
        for column, pairs in columns.items():
            natural = pairs[0][0]
            data = _panel_entry(params, natural).data
            if entry.excess and data not in shortcuts:
                raise UserError(
                    f"{at}.columns.{column}: excess agreement needs panels on a shortcut "
                    f"setting, and {natural!r} stitches on {data!r}; give such panels or "
                    "drop excess"
                )
            if row.split == "robust":
                if entry.excess:
                    raise UserError(f"{at}.split: robust and excess do not combine; drop one")
                plain = [
                    p for pair in pairs for p in pair if panel_job(params, p).adversarial is None
                ]
                if plain:
                    raise UserError(
                        f"{at}.columns.{column}: split robust needs adversarial panels "
                        f"(with `adversarial:`), and {plain[0]!r} is not one"
                    )
        rows.append(AgreementRow(label, row.split, columns))
    return AgreementFigureJob(
        name, entry.title, tuple(rows), entry.metric, _legend(entry.modes), entry.excess
    )


@dataclass(frozen=True)
class CkaFigureJob:
    """v2's CKA figure: per column label, the (natural, IRI) panel jobs, one pair per
    front; the FuLA mode drawn beside CKA; CKA on ``samples`` images per point."""

    name: str
    title: str
    columns: dict[str, tuple[tuple[PanelJob, PanelJob], ...]]
    mode: str
    samples: int


def cka_figure_job(params: dict, name: str) -> CkaFigureJob:
    """The validated figure ``cka_figures.<name>``: both panels of a column stitch the
    same points, and have the FuLA mode ``mode``."""
    where = f"cka_figures.{name}"
    entry = _entry(params, "cka_figures", name, CkaFigureEntry)
    columns = {}
    for label, pairs in _paired_columns(params, where, entry.columns).items():
        column = []
        for pair in pairs:
            jobs = tuple(panel_job(params, panel) for panel in pair)
            if (
                any(i != j for job in jobs for i, j in job.pairs)
                or len({j.pairs for j in jobs}) > 1
            ):
                raise UserError(
                    f"{where}.columns.{label}: {list(pair)} need the same points (i = j)"
                )
            for job in jobs:
                if job.modes.get(entry.mode, {}).get("objective") != "fula":
                    raise UserError(
                        f"{where}.mode: {entry.mode!r} is not a fula mode of panel "
                        f"{job.name!r}; name one of its fula modes"
                    )
            column.append(jobs)
        columns[label] = tuple(column)
    return CkaFigureJob(name, entry.title, columns, entry.mode, entry.samples)


def iri_examples_job(params: dict, name: str) -> tuple[list[IriSetJob], int]:
    """(IRI set jobs, images per row) of ``iri_examples.<name>``, in the order given."""
    where = f"iri_examples.{name}"
    entry = _entry(params, "iri_examples", name, IriExamplesEntry)
    _check_names(params, where, "iri_sets", entry.sets)
    jobs = [iri_set_job(params, s) for s in entry.sets]
    if len({(j.front, j.data) for j in jobs}) != 1:
        raise UserError(f"{where}: the sets must share one front and one data")
    return jobs, entry.per_row
