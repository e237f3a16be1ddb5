"""params.yaml's figure sections (grids, class-subset, cross-layer, v2 agreement,
shortcut and IRI example figures), each entry's validated job."""

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from stitchkit.common.errors import UserError
from stitchkit.common.params_file import Names, section_entry
from stitchkit.common.schema import Bool, PositiveInt, Str, section
from stitchkit.data.params import shortcut_setting
from stitchkit.measures.agreement import METRICS as AGREEMENT_METRICS
from stitchkit.stitching.params import check_names, panel_entry, panel_job
from stitchkit.testbeds.iris import IriSetJob, iri_set_job
from stitchkit.testbeds.params import FigureColumn, paired_columns


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
    entry = section_entry(params, "grids", name, GridEntry)
    if not entry.rows or any(len(row) != len(entry.columns) for row in entry.rows.values()):
        raise UserError(
            f"{where}.rows must map each row label to a list of {len(entry.columns)} cells "
            "(a panel, or a list of panels), one per column"
        )
    cells = tuple(
        tuple((cell,) if isinstance(cell, str) else tuple(cell) for cell in row)
        for row in entry.rows.values()
    )
    check_names(params, where, "panels", [p for row in cells for cell in row for p in cell])
    for cell in (cell for row in cells for cell in row if len(cell) > 1):
        entries = [panel_entry(params, p) for p in cell]
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
class SubsetFigureJob:
    name: str
    title: str
    series: dict  # label -> series name


def subset_figure_job(params: dict, name: str) -> SubsetFigureJob:
    """The validated composite class-subset figure ``subset_figures.<name>``."""
    where = f"subset_figures.{name}"
    entry = section_entry(params, "subset_figures", name, SubsetFigureEntry)
    check_names(params, where, "subsets", entry.series.values())
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
    entry = section_entry(params, "cross_layer_figures", name, CrossLayerFigureEntry)
    check_names(params, where, "panels", entry.rows.values())
    for panel in entry.rows.values():
        if panel_entry(params, panel).points is not None:
            raise UserError(f"{where}: panel {panel!r} has points, not front_points and end_points")
    return CrossLayerFigureJob(name, entry.title, dict(entry.rows), _legend(entry.modes))


def shortcut_examples_job(params: dict, name: str) -> tuple[list[str], int]:
    """(shortcut settings, images per row) of ``shortcut_examples.<name>``."""
    where = f"shortcut_examples.{name}"
    entry = section_entry(params, "shortcut_examples", name, ShortcutExamplesEntry)
    check_names(params, where, "shortcuts", entry.settings)
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


def agreement_figure_job(params: dict, name: str) -> AgreementFigureJob:
    """The validated figure ``agreement_figures.<name>``."""
    where = f"agreement_figures.{name}"
    entry = section_entry(params, "agreement_figures", name, AgreementFigureEntry)
    entries = {"": AgreementRowEntry(entry.columns)} if entry.rows is None else entry.rows
    shortcuts = params.get("shortcuts") or {}
    rows = []
    for label, row in entries.items():
        at = where if entry.rows is None else f"{where}.rows.{label}"
        columns = paired_columns(params, at, row.columns)
        for column, pairs in columns.items():
            natural = pairs[0][0]
            data = panel_entry(params, natural).data
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


def iri_examples_job(params: dict, name: str) -> tuple[list[IriSetJob], int]:
    """(IRI set jobs, images per row) of ``iri_examples.<name>``, in the order given."""
    where = f"iri_examples.{name}"
    entry = section_entry(params, "iri_examples", name, IriExamplesEntry)
    check_names(params, where, "iri_sets", entry.sets)
    jobs = [iri_set_job(params, s) for s in entry.sets]
    if len({(j.front, j.data) for j in jobs}) != 1:
        raise UserError(f"{where}: the sets must share one front and one data")
    return jobs, entry.per_row
