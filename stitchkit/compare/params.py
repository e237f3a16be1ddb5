"""params.yaml `comparisons:`: `stitchkit compare` as a pipeline stage (stages/comparison.py),
each entry's validated job."""

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from stitchkit.common.errors import UserError
from stitchkit.common.params_file import merged, section_entry
from stitchkit.common.schema import PositiveInt, Str, section
from stitchkit.compare.comparison import DEFAULT_MEASURES, DEFAULT_MODES
from stitchkit.compare.recipes import RECIPES, named_recipe
from stitchkit.compare.sides import Points
from stitchkit.data.params import check_dataset
from stitchkit.data.prepared import PreparedDataset
from stitchkit.measures.similarity import MEASURES
from stitchkit.models.model_spec import SOURCES
from stitchkit.stitching.objectives import MODES
from stitchkit.stitching.recipe import StitchRecipe


@section
class ComparisonEntry:
    """`comparisons.<name>`: ``front`` and ``end``, each a model of `models:` (its trained
    file) or a model SPEC (torchvision:NAME..., timm:NAME...); ``data``, a dataset of
    `datasets:` or `shortcuts:`; ``points`` (both models, unless ``end_points``): auto,
    auto:N or a list of names; ``modes`` and ``measures`` (empty: none); ``recipe``: fast
    or paper, whose keys ``stitch`` overrides (as a panel's `stitch:` does the shared
    recipe's); ``samples``: the test images the measures read (null: all)."""

    front: Str
    end: Str
    data: Str
    points: Str | tuple[Str, ...] = "auto"
    end_points: Str | tuple[Str, ...] | None = None
    modes: tuple[Str, ...] = DEFAULT_MODES
    measures: tuple[Str, ...] = DEFAULT_MEASURES
    recipe: Literal[tuple(RECIPES)] = "fast"
    stitch: dict[Str, Any] = field(default_factory=dict)
    samples: PositiveInt | None = 1000


@dataclass(frozen=True)
class ComparisonJob:
    name: str
    front: str  # a model id of `models:` or a SPEC
    end: str
    data: str
    points: Points
    end_points: Points | None
    modes: tuple[str, ...]
    measures: tuple[str, ...]
    recipe: str  # a preset of RECIPES
    stitch: dict  # its keys overridden (validated: see recipe_for)
    samples: int | None

    def recipe_for(self, data: PreparedDataset) -> StitchRecipe:
        """The preset, its image counts capped at ``data``'s, with the overrides."""
        return dataclasses.replace(named_recipe(self.recipe, data), **self.stitch)

    def models(self) -> list[str]:
        """The model ids of `models:` it reads (not SPECs)."""
        return [m for m in (self.front, self.end) if not is_spec(m)]


def is_spec(model: str) -> bool:
    return model.partition(":")[0] in SOURCES


def comparison_job(params: dict, name: str) -> ComparisonJob:
    """The validated ``comparisons.<name>``: its models, data, modes and measures exist."""
    where = f"comparisons.{name}"
    entry = section_entry(params, "comparisons", name, ComparisonEntry)
    for side in ("front", "end"):
        model = getattr(entry, side)
        if not is_spec(model) and model not in (params.get("models") or {}):
            raise UserError(
                f"{where}.{side}: {model!r} is not under `models:` (or give a SPEC such as "
                "torchvision:resnet18,num_classes=10)"
            )
    check_dataset(params, f"{where}.data", entry.data)
    for kind, names, known in (
        ("modes", entry.modes, MODES),
        ("measures", entry.measures, MEASURES),
    ):
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UserError(f"{where}.{kind}: no {unknown[0]!r}; choose from {', '.join(known)}")
    for key in ("points", "end_points"):
        points = getattr(entry, key)
        if isinstance(points, str):
            count = points.partition(":")[2]
            if not points.startswith("auto") or (count and not count.isdigit()):
                raise UserError(f"{where}.{key}: {points!r} is not auto, auto:N or a list of names")
    recipe = merged(
        StitchRecipe,
        asdict(RECIPES[entry.recipe]),
        entry.stitch,
        f"{where}.recipe",
        f"{where}.stitch",
    )
    overrides = {key: getattr(recipe, key) for key in entry.stitch}
    kept = [k for k in ComparisonJob.__annotations__ if k not in ("name", "stitch")]
    return ComparisonJob(name, stitch=overrides, **{k: getattr(entry, k) for k in kept})
