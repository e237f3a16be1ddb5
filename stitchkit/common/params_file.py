"""params.yaml as every stage reads it: the file (strict YAML, a mapping of known
sections), one validated entry of a section, a shared section merged with an entry's
overrides, and the point types entries share. Each area's sections and jobs live beside
the code that reads them (stitchkit.<area>.params); stitchkit.pipeline.config checks the
whole file at once."""

from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import Field, Strict

from stitchkit.common.errors import UserError
from stitchkit.common.schema import Str, validated
from stitchkit.common.strict_yaml import load_yaml

PARAMS_FILE = Path("params.yaml")

T = TypeVar("T")


Point = Annotated[int, Strict(), Field(ge=1)]  # at most the model's (model_points)


Points = Annotated[tuple[Point, ...], Field(min_length=1)]


Names = Annotated[tuple[Str, ...], Field(min_length=1)]


def section_entry(params: dict, section_name: str, name: str, kind: type[T]) -> T:
    """``section_name.name`` validated as ``kind``; a missing entry is a UserError."""
    entries = params.get(section_name) or {}
    if name not in entries:
        raise UserError(f"{name!r} is not under `{section_name}:` in params.yaml")
    return validated(kind, entries[name], f"{section_name}.{name}")


def merged(
    kind: type[T], shared: dict, overrides: dict, shared_where: str, override_where: str
) -> T:
    """``kind`` from a shared section with an entry's ``overrides``; an error names the
    key where the bad value was written."""

    def where(path: tuple) -> str:
        if not path and overrides:
            return f"{shared_where} with {override_where}"
        return override_where if path and path[0] in overrides else shared_where

    return validated(kind, {**shared, **overrides}, where)


# the sections of params.yaml (stitchkit.pipeline.config.ParamsFile gives their types)
SECTION_NAMES = (
    "compute",
    "datasets",
    "shortcuts",
    "shortcut_examples",
    "train",
    "models",
    "robust_eval",
    "stitch_robust_eval",
    "iris",
    "iri_sets",
    "stitch",
    "panels",
    "iri_panels",
    "grids",
    "similarities",
    "subsets",
    "subset_figures",
    "cross_layer_figures",
    "agreement_figures",
    "cka_figures",
    "iri_examples",
    "comparisons",
    "takeaways",
    "bootstrap",
)


def read_params(path: Path = PARAMS_FILE) -> dict:
    """params.yaml as a mapping of known sections, each a mapping; each stage then checks
    the sections it reads (a missing file, bad YAML, a key written twice, a file or
    section that is not a mapping, or an unknown section is one UserError)."""
    if not path.exists():
        raise UserError(f"{path} not found; run stages from the repository root")
    params = load_yaml(path) or {}
    if not isinstance(params, dict):
        raise UserError(f"{path} must map section names (models, panels, ...) to their entries")
    for name, section in params.items():
        if name not in SECTION_NAMES:
            raise UserError(f"{name}: unknown key; remove it or check its spelling")
        if section is not None and not isinstance(section, dict):
            raise UserError(f"{name}: input should be a valid dictionary, got {section!r}")
    return params


def iri_triple(entry: object) -> tuple | None:
    """The (front, data, point) an `iri_sets:` entry names: one IRI set each."""
    if not isinstance(entry, dict):
        return None
    return entry.get("front"), entry.get("data"), entry.get("point")


def replicate_groups(params: dict) -> dict[str, list[str]]:
    """Each panel with replicates (``replicate_of``) -> itself and its replicates, in
    params.yaml's order."""
    groups: dict[str, list[str]] = {}
    for section_name in ("panels", "iri_panels"):
        for name, entry in (params.get(section_name) or {}).items():
            main = (entry or {}).get("replicate_of")
            if main is not None:
                groups.setdefault(main, [main]).append(name)
    return groups
