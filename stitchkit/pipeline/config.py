"""params.yaml checked in full: every section's types and ranges, then every entry's
job (which checks its cross-references: a panel's models exist, its FuLA weights fit its
points, ...). `stitchkit repro` and `stitchkit evidence` run this before any stage; each
stage checks the sections it reads (stitchkit.<area>.params). Any problem is one
UserError naming the key path and what is expected."""

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from stitchkit.common.compute import ComputeSettings
from stitchkit.common.errors import UserError
from stitchkit.common.params_file import PARAMS_FILE, read_params
from stitchkit.common.schema import Str, validated
from stitchkit.compare.params import ComparisonEntry, comparison_job
from stitchkit.data.datasets import dataset_options
from stitchkit.data.params import shortcut_setting
from stitchkit.data.shortcuts import ShortcutSetting
from stitchkit.measures.bootstrap import BootstrapSettings
from stitchkit.measures.params import robust_evaluation, stitch_robust_evaluation
from stitchkit.measures.robustness import RobustEvaluation
from stitchkit.models.params import ModelEntry, training_job
from stitchkit.report.claims.base import TakeawayThresholds
from stitchkit.report.params import (
    AgreementFigureEntry,
    CrossLayerFigureEntry,
    GridEntry,
    IriExamplesEntry,
    ShortcutExamplesEntry,
    SubsetFigureEntry,
    agreement_figure_job,
    cross_layer_figure_job,
    grid_job,
    iri_examples_job,
    shortcut_examples_job,
    subset_figure_job,
)
from stitchkit.stitching.params import PanelEntry, panel_job
from stitchkit.testbeds.iris import IriSetEntry, IriSettings, iri_set_job
from stitchkit.testbeds.params import (
    CkaFigureEntry,
    SimilarityEntry,
    SubsetEntry,
    cka_figure_job,
    similarity_job,
    subset_job,
)


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
    stitch_robust_eval: dict[Str, Any] | None = None
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
    comparisons: dict[Str, ComparisonEntry] = {}
    takeaways: TakeawayThresholds | None = None
    bootstrap: BootstrapSettings | None = None


def load_params(path: Path | str = PARAMS_FILE) -> dict:
    """params.yaml, checked in full (see the module docstring)."""
    params = read_params(Path(path))
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
        "comparisons": comparison_job,
    }
    for section_name, build in builders.items():
        for name in params.get(section_name) or {}:
            build(params, name)
    if params.get("robust_eval") is not None:
        stitch_robust_evaluation(params)
        for model_id in params.get("models") or {}:
            robust_evaluation(params, model_id)
