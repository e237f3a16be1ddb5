"""params.yaml's testbed sections: IRI sets (`iris:`, `iri_sets:`), class-subset
series (`subsets:`), Fig. 6's similarities (`similarities:`) and v2's CKA figures
(`cka_figures:`), each entry's validated job."""

from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field, Strict

from stitchkit.common.errors import UserError
from stitchkit.common.params_file import Point, section_entry
from stitchkit.common.schema import PositiveInt, Str, section
from stitchkit.models.params import check_models_and_data, check_points, model_points
from stitchkit.stitching.params import (
    DEFAULT_MODES,
    ModeEntry,
    PanelJob,
    check_names,
    panel_entry,
    panel_job,
    stitch_modes,
    stitch_recipe,
)
from stitchkit.stitching.recipe import StitchRecipe

# a v2 figure column: [natural panel, IRI panel], or one such pair per front (averaged)
PanelPair = tuple[Str, Str]


FigureColumn = PanelPair | Annotated[list[PanelPair], Field(min_length=1)]


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
class SimilarityEntry:
    """`similarities.<name>` (Fig. 6): per configuration label an adversarial panel
    with a dm mode and the FuLA mode ``mode``; CKA on ``samples`` test images."""

    title: Str
    panels: dict[Str, Str]
    mode: Str
    samples: Annotated[int, Strict(), Field(ge=4)]


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
    entry = section_entry(params, "subsets", name, SubsetEntry)
    check_models_and_data(params, where, entry)
    for role in ("front", "end"):
        check_points(params, f"{where}.point", getattr(entry, role), [entry.point])
    recipe = stitch_recipe(params, entry.stitch, f"{where}.stitch")
    end_points = model_points(params, entry.end)
    modes = stitch_modes(where, entry.modes, [entry.point], recipe.bn, end_points)
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
    entry = section_entry(params, "similarities", name, SimilarityEntry)
    check_names(params, where, "panels", entry.panels.values())
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
    if not set.intersection(*({i for i, _ in job.pairs} for job in jobs.values())):
        raise UserError(
            f"{where}: the panels share no stitching point; give them one in common (the "
            "configurations are compared at the deepest shared point)"
        )
    return SimilarityJob(name, entry.title, jobs, entry.mode, entry.samples)


def paired_columns(params: dict, where: str, columns: dict) -> dict:
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
            entries = [panel_entry(params, p) for p in (natural, iris)]
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
    entry = section_entry(params, "cka_figures", name, CkaFigureEntry)
    columns = {}
    for label, pairs in paired_columns(params, where, entry.columns).items():
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
