"""params.yaml's schema, over every section: each key of each entry, given a value of
the wrong type, is one UserError naming that key's path; and the file as a stage reads it."""

import copy
import dataclasses
import json
import re
import tempfile
from pathlib import Path

import pytest
import yaml
from test_suites import composed

from conftest import run_stage, write_params
from stitchkit.common.compute import ComputeSettings
from stitchkit.common.errors import UserError
from stitchkit.common.params_file import replicate_groups
from stitchkit.compare.params import ComparisonEntry
from stitchkit.data.datasets import PREPARERS
from stitchkit.data.shortcuts import ShortcutSetting
from stitchkit.measures.bootstrap import BootstrapSettings
from stitchkit.measures.robustness import RobustEvaluation
from stitchkit.models.attacks import AdversarialTraining
from stitchkit.models.params import ModelEntry
from stitchkit.models.training import Recipe
from stitchkit.pipeline.config import check_params
from stitchkit.report.claims.base import TakeawayThresholds
from stitchkit.report.params import (
    AgreementFigureEntry,
    CrossLayerFigureEntry,
    GridEntry,
    IriExamplesEntry,
    ShortcutExamplesEntry,
    SubsetFigureEntry,
)
from stitchkit.stitching.params import ModeEntry, PanelEntry
from stitchkit.stitching.recipe import StitchRecipe
from stitchkit.testbeds.iris import IriSetEntry, IriSettings
from stitchkit.testbeds.params import CkaFigureEntry, SimilarityEntry, SubsetEntry

WRONG = [[1]]  # expressible in YAML, and of the wrong type for every key of the schema

# section -> the class of each of its entries (None: the section is one flat entry)
ENTRY_CLASSES = {
    "shortcuts": ShortcutSetting,
    "shortcut_examples": ShortcutExamplesEntry,
    "models": ModelEntry,
    "panels": PanelEntry,
    "grids": GridEntry,
    "similarities": SimilarityEntry,
    "subsets": SubsetEntry,
    "subset_figures": SubsetFigureEntry,
    "cross_layer_figures": CrossLayerFigureEntry,
    "iri_sets": IriSetEntry,
    "iri_panels": PanelEntry,
    "agreement_figures": AgreementFigureEntry,
    "cka_figures": CkaFigureEntry,
    "iri_examples": IriExamplesEntry,
    "comparisons": ComparisonEntry,
}
FLAT_SECTIONS = {
    "compute": ComputeSettings,
    "train": Recipe,
    "stitch": StitchRecipe,
    "robust_eval": RobustEvaluation,
    "iris": IriSettings,
    "takeaways": TakeawayThresholds,
    "bootstrap": BootstrapSettings,
}


def quick_suite() -> dict:
    return composed(Path(tempfile.mkdtemp()), "quick")


def keys_of(params: dict) -> list[tuple[tuple, type]]:
    """(key path, class) of every key of every entry of every section, nested entries
    (a panel's adversarial settings, modes and stitch overrides, a series' stitch
    overrides, a model's train
    overrides, a dataset's options) included."""
    out = [((name, f.name), cls) for name, cls in FLAT_SECTIONS.items() for f in _fields(cls)]
    out += [(("stitch_robust_eval", f.name), RobustEvaluation) for f in _fields(RobustEvaluation)]
    for name in params["datasets"]:
        out += [(("datasets", name, f.name), None) for f in _fields(PREPARERS[name][0])]
    for section, cls in ENTRY_CLASSES.items():
        entry = next(iter(params[section]))
        out += [((section, entry, f.name), cls) for f in _fields(cls)]
    model = next(iter(params["models"]))
    out += [(("models", model, "train", f.name), Recipe) for f in _fields(Recipe)]
    panel = next(p for p, e in params["panels"].items() if "adversarial" in e)
    out += [
        (("panels", panel, "adversarial", f.name), AdversarialTraining)
        for f in _fields(AdversarialTraining)
    ]
    out += [(("panels", panel, "modes", "fula", f.name), ModeEntry) for f in _fields(ModeEntry)]
    out += [(("panels", panel, "stitch", f.name), StitchRecipe) for f in _fields(StitchRecipe)]
    series = next(iter(params["subsets"]))
    out += [(("subsets", series, "stitch", f.name), StitchRecipe) for f in _fields(StitchRecipe)]
    return out


def _fields(cls):
    return dataclasses.fields(cls)


def _set(params: dict, path: tuple, value) -> dict:
    """A copy of ``params`` with ``value`` at ``path`` (mappings created on the way)."""
    params = copy.deepcopy(params)
    node = params
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return params


QUICK = quick_suite()
KEYS = [path for path, _ in keys_of(QUICK)]


def test_the_sweep_covers_every_section():
    assert {path[0] for path in KEYS} == set(QUICK) and len(KEYS) > 100


@pytest.mark.parametrize("path", KEYS, ids=[".".join(path) for path in KEYS])
def test_a_wrongly_typed_value_anywhere_names_its_key(path):
    params = _set(QUICK, path, WRONG)
    with pytest.raises(UserError) as err:
        check_params(params)
    message, where = str(err.value), ".".join(path)
    assert message.startswith((f"{where}:", f"{where}.")), (where, message)
    assert "\n" not in message


def test_the_check_stage_reports_a_wrong_type_in_any_section_and_writes_nothing(workdir):
    """The DAG's first stage checks all of params.yaml, so a bad value in a section no
    early stage reads (robust_eval) stops the run before anything computes."""
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["robust_eval"] = {"backend": "art", "iterations": "many"}
    write_params(workdir, params)
    result = run_stage("check", cwd=workdir)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0] == (
        "error: robust_eval.iterations: input should be a valid integer, got 'many'"
    )
    assert not (workdir / "models").exists() and not (workdir / "reports").exists()
    del params["robust_eval"]
    write_params(workdir, params)
    assert run_stage("check", cwd=workdir).returncode == 0
    assert json.loads((workdir / "reports/params-check.json").read_text()) == {
        "params.yaml": "valid"
    }


@pytest.mark.parametrize(
    "path, value, message",
    [
        (
            ("panels", "same-task-vgg16_bn", "points"),
            [1, 7],
            "panels.same-task-vgg16_bn.points: point 7 is beyond the 6 stitching points of "
            "model 'fashion-mnist_0-vgg16_bn' (vgg16_bn); use points 1..6",
        ),
        (
            ("models", "fashion-mnist_0-vit_tiny", "width"),
            50,
            "models.fashion-mnist_0-vit_tiny: vit_tiny needs a width that is a multiple of 3, "
            "got 50",
        ),
        (
            ("models", "fashion-mnist_0-resnet18", "depth"),
            4,
            "models.fashion-mnist_0-resnet18: resnet18 has a fixed depth; drop depth",
        ),
        (
            ("panels", "same-task-vit_tiny", "points"),
            [1, 6],
            "panels.same-task-vit_tiny.points: point 6 is beyond the 5 stitching points of "
            "model 'fashion-mnist_0-vit_tiny' (vit_tiny); use points 1..5",
        ),
    ],
)
def test_points_and_architecture_settings_are_checked_per_model(path, value, message):
    with pytest.raises(UserError) as err:
        check_params(_set(QUICK, path, value))
    assert str(err.value) == message


def _with_replicate(**entry) -> dict:
    """QUICK with `rep`: same-task-resnet18 again, front and end swapped (other seeds)."""
    replicate = {
        "front": "fashion-mnist_1-resnet18",
        "end": "fashion-mnist_0-resnet18",
        "data": "fashion-mnist",
        "points": [9],
        "stitch": {"seed": 1},
        "replicate_of": "same-task-resnet18",
    }
    return _set(QUICK, ("panels", "rep"), replicate | entry)


def test_a_replicate_panel_is_checked_against_the_panel_it_repeats():
    check_params(_with_replicate())
    assert replicate_groups(_with_replicate()) == {
        "same-task-resnet18": ["same-task-resnet18", "rep"]
    }


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"replicate_of": "nope"}, "panels.rep.replicate_of: 'nope' is not another panel under"),
        (
            {"replicate_of": "xl-fula-depth-resnet18"},
            "'xl-fula-depth-resnet18' is a cross-layer panel, which takes no replicates",
        ),
        ({"data": "fashion-mnist-pixels"}, "data differs from 'same-task-resnet18''s"),
        (
            {"front": "fashion-mnist_0-resnet18-robust"},
            "the front model 'fashion-mnist_0-resnet18-robust' differs from "
            "'fashion-mnist_0-resnet18' in more than its seed",
        ),
        (
            {"modes": {"fula-last": {"objective": "fula", "weights": "last"}}},
            "no stitch (mode, points) in common with",
        ),
    ],
    ids=["unknown", "cross-layer", "data", "model", "nothing-shared"],
)
def test_a_replicate_that_repeats_nothing_is_refused(entry, message):
    with pytest.raises(UserError, match=re.escape(message)):
        check_params(_with_replicate(**entry))


def test_a_replicate_of_a_replicate_names_the_first():
    params = _set(_with_replicate(), ("panels", "rep2"), _with_replicate()["panels"]["rep"])
    params["panels"]["rep2"]["replicate_of"] = "rep"
    with pytest.raises(UserError, match="'rep' is itself a replicate of 'same-task-resnet18'"):
        check_params(params)
