"""params.yaml's stitching sections: `stitch:` (the shared recipe), `panels:` and
`iri_panels:`, and each panel's modes; a panel's validated job."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import PlainValidator

from stitchkit.common.errors import UserError
from stitchkit.common.params_file import Points, iri_triple, merged, section_entry
from stitchkit.common.schema import Bool, Str, section
from stitchkit.models.attacks import AdversarialTraining
from stitchkit.models.params import check_models_and_data, check_points, model_points
from stitchkit.stitching.objectives import MODES, fula_weights
from stitchkit.stitching.recipe import StitchRecipe


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
    ``points`` (i = j) or ``front_points`` and ``end_points`` (every pair).
    ``replicate_of``: this panel repeats another of its section with other seeds (its
    own models, ``stitch.seed``), so the claims judge the two as one effect over
    replicates, on the stitches (mode, points) they share."""

    front: Str
    end: Str
    data: Str
    points: Points | None = None
    front_points: Points | None = None
    end_points: Points | None = None
    modes: dict[Str, ModeEntry | None] = field(default_factory=lambda: dict(DEFAULT_MODES))
    adversarial: AdversarialTraining | None = None
    stitch: dict[Str, Any] = field(default_factory=dict)
    replicate_of: Str | None = None

    def __post_init__(self):
        cross = (self.front_points is None, self.end_points is None)
        if (self.points is None) == (cross == (True, True)) or cross[0] != cross[1]:
            raise ValueError(
                "give either points (i = j) or both front_points and end_points (all pairs)"
            )


def stitch_modes(
    where: str, modes: dict, end_points: Iterable[int], bn: str, end_num_points: int
) -> dict:
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


def stitch_recipe(
    params: dict, overrides: dict[str, Any] | None = None, where: str = "stitch"
) -> StitchRecipe:
    """The shared `stitch:` recipe of every panel, with a panel's own ``overrides``
    (written at ``where``)."""
    return merged(StitchRecipe, params.get("stitch") or {}, overrides or {}, "stitch", where)


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
    entry = section_entry(params, section, name, PanelEntry)
    check_models_and_data(params, where, entry)
    if entry.points is not None:
        pairs = tuple((k, k) for k in entry.points)
        for role in ("front", "end"):
            check_points(params, f"{where}.points", getattr(entry, role), entry.points)
    else:
        pairs = tuple((i, j) for i in entry.front_points for j in entry.end_points)
        check_points(params, f"{where}.front_points", entry.front, entry.front_points)
        check_points(params, f"{where}.end_points", entry.end, entry.end_points)
    iris = None
    overrides = entry.stitch
    if section == "iri_panels":
        iris = {i: _iri_set_name(params, where, entry, i) for i, _ in sorted(set(pairs))}
        overrides = {**IRI_RECIPE, **entry.stitch}
    recipe = stitch_recipe(params, overrides, f"{where}.stitch")
    end_points = model_points(params, entry.end)
    modes = stitch_modes(where, entry.modes, [j for _, j in pairs], recipe.bn, end_points)
    if entry.adversarial is not None and params.get("robust_eval") is None:
        raise UserError(f"{where}.adversarial: adversarial panels need a `robust_eval:` section")
    if entry.replicate_of is not None:
        _check_replicate(params, section, name, entry, pairs, modes)
    return PanelJob(
        name, entry.front, entry.end, entry.data, pairs, modes, recipe, entry.adversarial, iris
    )


def _check_replicate(
    params: dict, section: str, name: str, entry: PanelEntry, pairs: tuple, modes: dict
) -> None:
    """A replicate repeats a panel of its own section that is no replicate itself, on the
    same data and adversarial setting, and shares at least one stitch with it."""
    where, main = f"{section}.{name}.replicate_of", entry.replicate_of
    if entry.points is None:
        raise UserError(
            f"{where}: only panels of `points` (i = i) take replicates; the cross-layer "
            "checks read one matrix per panel"
        )
    entries = params.get(section) or {}
    if main not in entries or main == name:
        raise UserError(f"{where}: {main!r} is not another panel under `{section}:`; name one")
    first = section_entry(params, section, main, PanelEntry)
    if first.points is None:
        raise UserError(f"{where}: {main!r} is a cross-layer panel, which takes no replicates")
    if first.replicate_of is not None:
        raise UserError(
            f"{where}: {main!r} is itself a replicate of {first.replicate_of!r}; name "
            f"{first.replicate_of!r}"
        )
    for key in ("data", "adversarial"):
        if getattr(first, key) != getattr(entry, key):
            raise UserError(
                f"{where}: {key} differs from {main!r}'s; a replicate changes seeds only"
            )
    models = params.get("models") or {}
    for role in ("front", "end"):
        ours, theirs = (dict(models[getattr(e, role)]) for e in (entry, first))
        if {**ours, "seed": None} != {**theirs, "seed": None}:
            raise UserError(
                f"{where}: the {role} model {getattr(entry, role)!r} differs from "
                f"{getattr(first, role)!r} in more than its seed; a replicate changes seeds only"
            )
    job = panel_job(params, main)
    shared = {(m, p) for m in modes for p in pairs} & {(m, p) for m in job.modes for p in job.pairs}
    if not shared:
        raise UserError(f"{where}: no stitch (mode, points) in common with {main!r}")


def _iri_set_name(params: dict, where: str, entry: PanelEntry, point: int) -> str:
    """The IRI set of the panel's front and data at ``point``."""
    triple = (entry.front, entry.data, point)
    for name, iri_set in (params.get("iri_sets") or {}).items():
        if iri_triple(iri_set) == triple:
            return name
    raise UserError(
        f"{where}: no IRI set of front {entry.front} on {entry.data} at point {point}; "
        f"add {{front: {entry.front}, data: {entry.data}, point: {point}}} under `iri_sets:`"
    )


def check_names(params: dict, where: str, section_name: str, names: Iterable[str]) -> None:
    known = set(params.get(section_name) or {})
    sections = f"`{section_name}:`"
    if section_name == "panels":
        known |= set(params.get("iri_panels") or {})
        sections = "`panels:` or `iri_panels:`"
    unknown = sorted(set(names) - known)
    if unknown:
        raise UserError(f"{where}: {unknown} are not under {sections}")


def panel_entry(params: dict, name: str) -> PanelEntry:
    return section_entry(params, panel_section(params, name), name, PanelEntry)
