"""Stitching on the first k classes (Fig. 9): data restriction, the stage, resume."""

import json
import re

import pytest
import torch

from conftest import run_stage, write_params
from stitchkit.common.errors import UserError
from stitchkit.data.prepared import PreparedDataset
from stitchkit.models.checkpoints import load_model
from stitchkit.stitching.objectives import MODES
from stitchkit.stitching.recipe import StitchRecipe, make_spec
from stitchkit.stitching.trainer import PanelTrainer
from stitchkit.testbeds.class_subsets import fit_on_class_subsets


def test_first_classes_restricts_only_the_training_split(digits_file):
    data = PreparedDataset.load(digits_file)
    subset = data.first_classes(3)
    assert set(subset.train_labels.tolist()) == {0, 1, 2}
    assert len(subset.train_labels) == int((data.train_labels < 3).sum())
    assert torch.equal(subset.test_labels, data.test_labels)
    assert subset.num_classes == 10
    for k in (0, 11):
        with pytest.raises(UserError, match=r"number of classes must be in 1\.\.10"):
            data.first_classes(k)


def with_series(workdir, params, **entry) -> None:
    params["subsets"] = {
        "ab": {"front": "a", "end": "b", "data": "digits", "point": 4, "classes": [1, 3, 10]}
        | entry
    }
    params["subset_figures"] = {"fig9": {"title": "t", "series": {"cross": "ab", "same": "ab"}}}
    params["stitch"]["epochs"] = 1
    write_params(workdir, params)


def test_subset_stage_writes_one_result_per_k_and_mode_and_a_figure(stitch_workdir):
    workdir, params = stitch_workdir
    with_series(workdir, params)
    result = run_stage("subset", "ab", cwd=workdir)
    assert result.returncode == 0, result.stderr
    report = json.loads((workdir / "reports/subset/ab.json").read_text())
    keys = {(r["classes"], r["mode"]) for r in report["results"]}
    assert keys == {(k, m) for k in (1, 3, 10) for m in MODES}
    assert all(r["front_point"] == r["end_point"] == 4 for r in report["results"])
    assert not (workdir / "checkpoints/subset-ab").exists()
    weights = torch.load(workdir / "stitches/subset-ab.pt", weights_only=True)
    assert set(weights) == {f"{k}/{m}/4/4" for k in (1, 3, 10) for m in MODES}
    assert run_stage("report", "fig9", cwd=workdir).returncode == 0
    assert (workdir / "reports/figures/fig9.png").stat().st_size > 5000


def test_dm_on_one_class_differs_from_dm_on_all(stitch_workdir):
    workdir, params = stitch_workdir
    with_series(workdir, params, classes=[1, 10], modes={"dm": {}})
    assert run_stage("subset", "ab", cwd=workdir).returncode == 0
    weights = torch.load(workdir / "stitches/subset-ab.pt", weights_only=True)
    assert not torch.equal(weights["1/dm/4/4"]["conv.weight"], weights["10/dm/4/4"]["conv.weight"])


@pytest.mark.parametrize(
    "entry, pattern",
    [
        ({"classes": [1, 11]}, r"class counts \[11\] are outside 1\.\.10"),
        ({"classes": [0, 2]}, r"subsets\.ab\.classes\.0: input should be greater than 0"),
        (
            {"point": 10},
            r"subsets\.ab\.point: point 10 is beyond the 9 stitching points of model 'a' "
            r"\(resnet18\); use points 1\.\.9",
        ),
        ({"modes": {"kd": {}}}, r"subsets\.ab\.modes\.kd: unknown stitching mode 'kd'"),
    ],
    ids=["k-too-large", "k-zero", "point", "mode"],
)
def test_bad_series_fail_cleanly(stitch_workdir, entry, pattern):
    workdir, params = stitch_workdir
    with_series(workdir, params, **entry)
    result = run_stage("subset", "ab", cwd=workdir)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (
        result.stderr
    )
    assert re.search(pattern, lines[0]), lines[0]
    assert not (workdir / "reports/subset").exists() and not (workdir / "stitches").exists()


def test_finished_subsets_are_reloaded_on_resume(stitch_workdir, monkeypatch):
    workdir, _ = stitch_workdir
    checkpoints = workdir / "checkpoints"
    front, end = load_model(workdir / "models/a.pt"), load_model(workdir / "models/b.pt")
    data = PreparedDataset.load(workdir / "data/prepared/digits.pt")
    specs = [make_spec(m, 4, 4, end) for m in ("dm", "hint")]
    recipe = StitchRecipe(epochs=1, batch_size=64, train_samples=128, eval_samples=100, lr_drops=())
    run = lambda: fit_on_class_subsets(  # noqa: E731
        front, end, data, specs, recipe, [2, 5], "cpu", checkpoints, progress=False
    )
    first = run()
    assert sorted(p.name for p in checkpoints.iterdir()) == ["classes-2.pt", "classes-5.pt"]
    (checkpoints / "classes-5.pt").unlink()  # as if killed while fitting k = 5
    fitted = []
    original_fit = PanelTrainer.fit
    monkeypatch.setattr(
        PanelTrainer,
        "fit",
        lambda self, **kw: (
            fitted.append(self.data.train_labels.max().item() + 1) or original_fit(self, **kw)
        ),
    )
    second = run()
    assert fitted == [5]  # k = 2 was reloaded, only k = 5 was fitted again
    for k in (2, 5):
        for a, b in zip(first[k], second[k], strict=True):
            assert a.summary() == b.summary()
            assert torch.equal(a.layer.conv.weight, b.layer.conv.weight)
