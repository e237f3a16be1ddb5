"""The suites: params.yaml is the composed paper suite; every entry of every suite validates;
the evidence suite gives every claim check the results it needs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dvc.utils.hydra import compose_and_dump

from conftest import REPO
from stitchkit.common.errors import UserError
from stitchkit.data.datasets import AUTHORS_WNIDS, PREPARERS, dataset_options
from stitchkit.data.params import dataset_stage, shortcut_setting
from stitchkit.measures.params import robust_evaluation, stitch_robust_evaluation
from stitchkit.models.attacks import AdversarialTraining
from stitchkit.models.params import training_job
from stitchkit.models.simclr import SimCLR
from stitchkit.pipeline import stitch_census
from stitchkit.pipeline.config import check_params
from stitchkit.report.claims import adversarial, cross_layer, information, shortcuts, subsets
from stitchkit.report.claims.base import Run, TakeawayThresholds, alpha
from stitchkit.report.params import (
    agreement_figure_job,
    cross_layer_figure_job,
    grid_job,
    shortcut_examples_job,
    subset_figure_job,
)
from stitchkit.stitching.params import panel_job, stitch_recipe
from stitchkit.testbeds.params import similarity_job, subset_job


def composed(tmp_path, suite: str) -> dict:
    out = tmp_path / f"{suite}.yaml"
    compose_and_dump(out, str(REPO / "conf"), None, "config", str(REPO), [f"suite={suite}"])
    return yaml.safe_load(out.read_text())


def test_committed_params_is_the_composed_paper_suite(tmp_path):
    assert yaml.safe_load((REPO / "params.yaml").read_text()) == composed(tmp_path, "paper")


@pytest.mark.parametrize("suite", ["paper", "quick", "evidence"])
def test_every_section_of_a_suite_passes_the_full_check(tmp_path, suite):
    check_params(composed(tmp_path, suite))


@pytest.mark.parametrize("suite", ["paper", "quick"])
def test_every_model_and_dataset_of_a_suite_validates(tmp_path, suite):
    params = composed(tmp_path, suite)
    assert set(params["datasets"]) <= set(PREPARERS)
    jobs = [training_job(params, model_id) for model_id in params["models"]]
    archs = {"resnet18", "vgg16_bn", "vit_tiny"}
    archs |= {"resnet34", "plain18"} if suite == "paper" else set()
    assert {job.arch for job in jobs} == archs


@pytest.mark.parametrize("suite", ["paper", "quick"])
def test_every_shortcut_panel_series_and_figure_of_a_suite_validates(tmp_path, suite):
    params = composed(tmp_path, suite)
    settings = [shortcut_setting(params, name) for name in params["shortcuts"]]
    assert {(s.kind, s.pattern) for s in settings} == {
        ("pattern", "pixels"),
        ("pattern", "aruco"),
        ("location", None),
        ("combination", "pixels"),
        ("combination", "aruco"),
    }
    panels = [panel_job(params, name) for name in params["panels"]]
    trained_on = {entry["dataset"] for entry in params["models"].values()}
    assert {p.data for p in panels} | trained_on >= set(params["shortcuts"]) - {
        n for n in params["shortcuts"] if "aruco" in n and suite == "quick"
    }
    series = [subset_job(params, name) for name in params["subsets"]]
    assert all(s.classes == tuple(range(1, 11)) for s in series if suite == "paper")
    assert all({1, 10} <= set(s.classes) for s in series)
    assert {s.name.split("-resnet")[0] for s in series} >= {"cross-task", "same-task"}
    for name in params["grids"]:
        grid_job(params, name)
    for name in params["shortcut_examples"]:
        shortcut_examples_job(params, name)
    for name in params["subset_figures"]:
        subset_figure_job(params, name)
    for name in params["cross_layer_figures"]:
        cross_layer_figure_job(params, name)
    assert params["grids"] and params["shortcut_examples"] and params["subset_figures"]
    assert any(name.startswith("fig3-") for name in params["grids"])  # DM against Hint
    assert "fig11-fula-depth-resnet18" in params["cross_layer_figures"]


@pytest.mark.parametrize("suite", ["paper", "quick"])
def test_every_adversarial_panel_and_similarity_figure_of_a_suite_validates(tmp_path, suite):
    params = composed(tmp_path, suite)
    stitch_robust_evaluation(params)
    panels = [panel_job(params, name) for name in params["panels"]]
    adversarial = [p for p in panels if p.adversarial]
    robust_models = {m for m, e in params["models"].items() if "adversarial" in e.get("train", {})}
    configurations = {(p.front in robust_models, p.end in robust_models) for p in adversarial}
    assert configurations == {(False, False), (False, True), (True, False), (True, True)}
    alphas = {p.adversarial.alpha for p in adversarial}
    assert alphas == ({0.0, 0.5, 1.0} if suite == "paper" else {0.0, 1.0})
    figures = [similarity_job(params, name) for name in params["similarities"]]
    assert figures and all(len(f.panels) == 4 for f in figures)


def test_a_similarity_figure_needs_a_point_its_panels_share(tmp_path):
    params = composed(tmp_path, "evidence")
    (name,) = params["similarities"]
    params["panels"]["at1-same-task-nr-r"]["points"] = [5]
    params["panels"]["at1-same-task-nr-nr"]["points"] = [9]
    with pytest.raises(UserError, match="share no stitching point"):
        similarity_job(params, name)


def test_paper_suite_trains_the_eighteen_models_of_table_1(tmp_path):
    params = composed(tmp_path, "paper")
    expected = {
        f"{group}-{arch}{robust}"
        for group in ("cifar10_0", "cifar10_1", "ls-imagenet-10_0")
        for arch in ("plain18", "resnet18", "resnet34")
        for robust in ("", "-robust")
    }
    v2 = {f"cifar10_{seed}-{arch}" for seed in (0, 1) for arch in ("vgg16_bn", "vit_tiny")}
    # v2's fronts of seeds 1-3: cross-seed, SimCLR, cross-bias, and robust ones
    fronts = {f"cifar10_{seed}-resnet18{robust}" for seed in (2, 3) for robust in ("", "-robust")}
    simclr = [training_job(params, f"cifar10_{seed}-resnet18-simclr") for seed in (1, 2, 3)]
    biased = [training_job(params, f"cifar10-pixels_{seed}-resnet18") for seed in (1, 2, 3)]
    assert all(job.dataset == "cifar10-pixels" and job.recipe.lr == 0.1 for job in biased)
    for job in simclr:  # the authors' ss_epochs 200 at temperature 0.5, then 200 of the probe
        assert job.dataset == "cifar10" and job.recipe.epochs == 200
        assert job.recipe.simclr == SimCLR(200, 0.5, 1024, 128) and job.recipe.lr == 0.1
    assert set(params["models"]) == expected | v2 | fronts | {j.model_id for j in simclr + biased}
    for job in (training_job(params, m) for m in v2):  # the authors' low-resolution baselines
        assert job.recipe.lr == 0.01 and job.recipe.epochs == 200 and job.depth is None
        assert job.width == {"vgg16_bn": 64, "vit_tiny": 192}[job.arch]
    jobs = [training_job(params, m) for m in expected]
    robust = [j.recipe.adversarial for j in jobs if j.model_id.endswith("-robust")]
    assert robust == [AdversarialTraining(0.5, 8 / 255, 2 / 255, 10)] * 9
    assert all(r.mix == "batch" and not r.random_start for r in robust)  # the authors' PGD
    for model_id in expected:  # Table 1: the paper's AutoAttack "rand" on all 10,000
        evaluation = robust_evaluation(params, model_id)
        assert evaluation.preset == "paper" and evaluation.backend == "autoattack"
        assert (evaluation.iterations, evaluation.eot_iterations) == (100, 20)
        assert evaluation.epsilon == 8 / 255 and evaluation.samples is None
    stitches = stitch_robust_evaluation(params)  # the authors' evaluator, all 10,000
    assert (stitches.preset, stitches.backend, stitches.iterations) == ("authors", "art", 20)
    assert stitches.step_size == 2 / 255 and stitches.samples is None
    assert all(j.width == 64 and j.recipe.epochs == 200 and j.recipe.lr == 0.1 for j in jobs)
    assert all(j.recipe.batch_size == 128 and j.recipe.crop_padding == 4 for j in jobs)
    assert all(j.recipe.nesterov and j.recipe.lr_drops == (66, 133) for j in jobs)
    assert {(j.dataset, j.seed) for j in jobs} == {
        ("cifar10", 0),
        ("cifar10", 1),
        ("ls-imagenet-10", 0),
    }
    assert dataset_options("ls-imagenet-10", params["datasets"]["ls-imagenet-10"]).wnids == (
        AUTHORS_WNIDS
    )


def test_paper_suite_stitches_with_the_authors_recipe_and_each_stitch_once(tmp_path):
    params = composed(tmp_path, "paper")
    recipe = stitch_recipe(params)
    assert (recipe.epochs, recipe.lr, recipe.weight_decay, recipe.lr_drops) == (
        30,
        1e-3,
        1e-4,
        (10, 20),
    )
    assert recipe.hint_norm == "batch" and recipe.bn == "train" and recipe.dm_samples == 100
    panels = [panel_job(params, name) for name in params["panels"]]

    def stitches(p):
        return (p.front, p.end, p.data, p.pairs, p.recipe, tuple(sorted(p.modes)))

    alpha0 = {stitches(p) for p in panels if p.adversarial and p.adversarial.alpha == 0}
    clean = [p.name for p in panels if p.adversarial is None and stitches(p) in alpha0]
    assert not clean, f"{clean} duplicate alpha = 0 adversarial panels"


def test_the_paper_suite_computes_a_stitch_twice_only_on_a_cross_layer_diagonal(tmp_path):
    """v2's seed-1 fronts are v1's same-task panels (protocol notes); a cross-layer
    figure reads a whole grid of point pairs, so its panel still repeats the same-point
    panel on its diagonal (and Fig. 11's all-terms FuLA repeats Fig. 10's)."""
    params = composed(tmp_path, "paper")
    groups = stitch_census.repeats(params)
    cross_layer = {
        name for name in params["panels"] if any(i != j for i, j in panel_job(params, name).pairs)
    }
    assert groups and all({ref.panel for ref in group} & cross_layer for group in groups)


def test_every_stitch_of_the_paper_suite_is_drawn_by_a_figure(tmp_path):
    """DM, every trained stitch's starting point, is scored only where Fig. 3 and
    Fig. 6 draw it (the paper reports it nowhere else), and so is every other mode."""
    params = composed(tmp_path, "paper")
    undrawn = stitch_census.undrawn(params)
    assert not undrawn, undrawn[:3]
    assert ("at1-same-task-nr-nr-resnet18", "fula-last") in stitch_census.drawn(params)


@pytest.mark.parametrize("suite", ["paper", "quick"])
def test_information_stitching_pairs_each_iri_panel_with_its_natural_twin(tmp_path, suite):
    params = composed(tmp_path, suite)
    jobs = [panel_job(params, name) for name in params["iri_panels"]]
    assert jobs and all(job.recipe.bn == "frozen" for job in jobs)  # the authors' eval mode
    assert all(set(job.iris) == {i for i, _ in job.pairs} for job in jobs)
    (row,) = agreement_figure_job(params, "v2-information-resnet18").rows
    assert row.split == "clean"
    assert list(row.columns) == ["identical", "cross-seed", "cross-supervision", "cross-bias"]
    for label, pairs in row.columns.items():
        ends = set()
        for natural, iris in pairs:
            natural, iris = panel_job(params, natural), panel_job(params, iris)
            assert natural.iris is None and natural.pairs == iris.pairs
            assert {m["objective"] for m in iris.modes.values()} >= {"hint", "slm", "tlm", "fula"}
            ends.add(natural.end)
        # the paper suite averages fronts of seeds 1-3 into the seed-0 end, as the authors
        assert len(pairs) == (3 if suite == "paper" and label != "identical" else 1)
        assert len(ends) == 1
    supervision = panel_job(params, row.columns["cross-supervision"][0][0])
    assert training_job(params, supervision.front).recipe.simclr is not None


@pytest.mark.parametrize("suite", ["paper", "quick"])
def test_backdoor_stitching_draws_excess_agreement_of_shortcut_panels_only(tmp_path, suite):
    params = composed(tmp_path, suite)
    figure = agreement_figure_job(params, "v2-backdoor-resnet18")
    (row,) = figure.rows
    assert figure.excess and len(row.columns) == {"paper": 3, "quick": 2}[suite]
    for (pair,) in row.columns.values():
        jobs = [panel_job(params, panel) for panel in pair]
        assert all(job.data in params["shortcuts"] for job in jobs)
        assert jobs[0].iris is None and jobs[1].iris and jobs[0].pairs == jobs[1].pairs
        datasets = [params["models"][model]["dataset"] for model in (jobs[0].front, jobs[0].end)]
        assert datasets[0] != datasets[1]  # a cross-task front
    columns = params["agreement_figures"]["v2-information-resnet18"]["columns"]
    columns["mixed"] = [columns["identical"], columns["cross-seed"]]
    if suite == "quick":  # a column averages pairs into one end: self and cross-seed do not
        with pytest.raises(UserError, match="columns.mixed: the pairs of a column are averaged"):
            agreement_figure_job(params, "v2-information-resnet18")
    del columns["mixed"]
    params["agreement_figures"]["v2-information-resnet18"]["excess"] = True
    with pytest.raises(UserError, match="excess agreement needs panels on a shortcut setting"):
        agreement_figure_job(params, "v2-information-resnet18")


def test_dvc_dag_is_prepare_then_train():
    dvc = str(Path(sys.executable).parent / "dvc")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    dot = subprocess.run(
        [dvc, "dag", "--dot"], cwd=REPO, env=env, capture_output=True, text=True, check=True
    ).stdout
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for model_id, entry in params["models"].items():
        assert f'"{dataset_stage(params, entry["dataset"])}" -> "train@{model_id}"' in dot
    for panel in params["iri_panels"]:  # through the folder of the front's IRIs
        for name in panel_job(params, panel).iris.values():
            assert f'"iris@{name}" -> "iri-stitch@{panel}"' in dot
    for figure in params["cka_figures"]:  # CKA needs the IRIs, and the report the CKA
        assert f'"cka@{figure}" -> "report"' in dot
        for name in params["iri_sets"]:
            assert f'"iris@{name}" -> "cka@{figure}"' in dot


@pytest.mark.parametrize("suite", ["paper", "quick"])
def test_adversarial_stitching_draws_four_configurations_at_alpha_0_and_on_attacks_at_1(
    tmp_path, suite
):
    params = composed(tmp_path, suite)
    clean, attacked = agreement_figure_job(params, "v2-adversarial-resnet18").rows
    assert (clean.label, clean.split, attacked.label, attacked.split) == (
        "α = 0", "clean", "α = 1", "robust"
    )  # fmt: skip
    robust = {}
    for row in (clean, attacked):
        assert len(row.columns) == 4
        for label, pairs in row.columns.items():
            # the authors: fronts of seeds 1-3 into the seed-0 end
            assert len(pairs) == (3 if suite == "paper" else 1)
            for natural, iris in pairs:
                natural, iris = panel_job(params, natural), panel_job(params, iris)
                assert natural.iris is None and iris.iris and natural.pairs == iris.pairs
                assert {"hint", "slm", "fula"} <= set(natural.modes) & set(iris.modes)
                alphas = {
                    job.adversarial.alpha if job.adversarial else 0 for job in (natural, iris)
                }
                assert alphas == {0 if row is clean else 1}
                if row is attacked:  # the same PGD on natural images and on IRIs
                    assert natural.adversarial == iris.adversarial
                    assert natural.recipe.train_samples == iris.recipe.train_samples
                is_robust = ["robust" in job for job in (natural.front, natural.end)]
                robust.setdefault(label, set()).add(tuple(is_robust))
    assert robust == {
        "non-robust → non-robust": {(False, False)},
        "non-robust → robust": {(False, True)},
        "robust → non-robust": {(True, False)},
        "robust → robust": {(True, True)},
    }
    figure = params["agreement_figures"]["v2-adversarial-resnet18"]
    figure["rows"]["α = 1"]["columns"]["plain"] = figure["rows"]["α = 0"]["columns"][
        "non-robust → robust"
    ]
    with pytest.raises(UserError, match="columns.plain: split robust needs adversarial panels"):
        agreement_figure_job(params, "v2-adversarial-resnet18")
    figure["columns"] = figure["rows"]["α = 0"]["columns"]
    with pytest.raises(UserError, match="give either `columns:` .one row. or `rows:`"):
        agreement_figure_job(params, "v2-adversarial-resnet18")


class ModesOnly:
    """Stands in for a run's results where a check only asks which modes a panel has:
    every panel and series has the modes its params entry names."""

    def __init__(self, params: dict):
        self.params = params

    def _report(self, entry: dict) -> dict:
        modes = entry.get("modes") or {m: {} for m in ("dm", "hint", "slm", "tlm", "fula")}
        pairs = [(k, k) for k in entry.get("points") or [entry.get("point")]]
        if "front_points" in entry:
            pairs = [(i, j) for i in entry["front_points"] for j in entry["end_points"]]
        return {
            "results": [
                {"mode": m, "front_point": i, "end_point": j} for m in modes for i, j in pairs
            ]
        }

    def panel(self, name: str) -> dict:
        entry = (self.params.get("panels") or {}).get(name) or self.params["iri_panels"][name]
        return self._report(entry)

    def series(self, name: str) -> dict:
        return self._report(self.params["subsets"][name])


def test_the_evidence_suite_gives_every_claim_check_its_results(tmp_path):
    params = composed(tmp_path, "evidence")
    run = Run(params, ModesOnly(params), TakeawayThresholds())
    # Sec. 3.1: alpha = 1 between non-robust models; same-task panels besides the
    # exception; Fig. 6's four configurations with FuLA on the last term
    assert adversarial._non_robust_alpha_1(run)
    # fabricated robustness over three seed pairs, on the four modes it compares at point 9
    (group,) = run.replicates.values()
    assert group[0] == "at1-same-task-nr-nr" and len(group) == 3
    judged = {(r["mode"], r["front_point"]) for r in run.panel(group[0])["results"]}
    assert judged == {(m, 9) for m in ("hint", "slm", "tlm", "fula")}
    same_task = run.panels(lambda e: alpha(e) is not None and not run.cross_task(e))
    assert [p for p in same_task if not adversarial._exception(run, params["panels"][p])]
    (figure,) = params["similarities"].values()
    assert len(figure["panels"]) == 4 and figure["mode"] == "fula-last"
    # the panels judged at their own points (no replicates) also stitch below point 9,
    # where FuLA differs from Hint; Fig. 6's configurations share point 9
    judged_at_own_points = [
        p
        for p in same_task
        if p not in run.replicates and not adversarial._exception(run, params["panels"][p])
    ]
    assert judged_at_own_points
    assert all(min(params["panels"][p]["points"]) < 9 for p in judged_at_own_points)
    assert all(9 in params["panels"][p]["points"] for p in figure["panels"].values())
    # Sec. 3.2: cross-task shortcut panels, class-subset series with 1 and 10 classes
    assert len(shortcuts._cross_task_shortcut_panels(run)) == 3
    series = subsets._series(run, lambda e: True)
    assert {"cross-task-resnet18", "same-task-resnet18"} <= set(series)
    # Sec. 3.3: cross-layer panels, one a ladder of FuLA terms, one where layers can
    # miss themselves (two different models)
    xl_panels = cross_layer._cross_layer_panels(run)

    def fula_terms(panel: str) -> int:
        modes = run.entry(panel)["modes"].items()
        return sum(cross_layer._fula_terms(m, e or {}) is not None for m, e in modes)

    ladders = [p for p in xl_panels if fula_terms(p) >= 3]
    assert ladders and any(run.entry(p)["front"] != run.entry(p)["end"] for p in xl_panels)
    # v2: an information figure with cross-seed and cross-bias columns; the biased front
    # is another seed than the end, as the authors' fronts of seeds 1-3 into seed 0
    (info,) = information._information_figures(run)
    columns = params["agreement_figures"][info]["columns"]
    for natural, iris in columns.values():
        assert run.entry(natural)["front"] == run.entry(iris)["front"]
        assert (
            params["models"][run.entry(natural)["front"]]["seed"]
            != (params["models"][run.entry(natural)["end"]]["seed"])
        )
    # every score on all 10,000 test images
    assert params["stitch"]["eval_samples"] is None
