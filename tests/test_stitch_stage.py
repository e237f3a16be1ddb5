"""The stitch and figures stages: outputs, bad input, resume after a kill."""

import json
import re

import pytest
import torch

from conftest import kill_after_checkpoint, run_stage, write_params
from stitchkit.models.architectures import ModelSpec, build_model
from stitchkit.models.checkpoints import save_model


def test_stitch_stage_writes_results_weights_and_a_figure(stitch_workdir):
    workdir, _ = stitch_workdir
    result = run_stage("stitch", "ab", cwd=workdir)
    assert result.returncode == 0, result.stderr
    report = json.loads((workdir / "reports/stitch/ab.json").read_text())
    assert report["front"] == "a" and report["end"] == "b" and report["bn_policy"] == "train"
    keys = {(r["mode"], r["front_point"]) for r in report["results"]}
    assert keys == {(m, k) for m in ("dm", "hint", "slm", "tlm", "fula") for k in (2, 6)}
    assert report["hint_norm"] == "batch"
    for r in report["results"]:
        assert 0 <= r["test_accuracy"] <= 1 and r["dm_residual"] >= 0
        assert (r["final_loss"] is None) == (r["mode"] == "dm")
    weights = torch.load(workdir / "stitches/ab.pt", weights_only=True)
    assert weights["fula/6/6"]["conv.weight"].shape == (16, 16, 1, 1)  # 4 x width 4
    assert not (workdir / "checkpoints/stitch-ab.pt").exists()

    assert run_stage("report", "panels", cwd=workdir).returncode == 0
    png, pdf = (workdir / f"reports/figures/panels/ab.{suffix}" for suffix in ("png", "pdf"))
    first = png.read_bytes(), pdf.read_bytes()
    assert first[0][:4] == b"\x89PNG" and first[1][:4] == b"%PDF"
    assert run_stage("report", "panels", cwd=workdir).returncode == 0
    assert (png.read_bytes(), pdf.read_bytes()) == first  # figures are reproducible


def assert_clean_failure(result, pattern, workdir):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (
        result.stderr
    )
    assert re.search(pattern, lines[0]), lines[0]
    assert not (workdir / "reports/stitch").exists() and not (workdir / "stitches").exists()


@pytest.mark.parametrize(
    "panel, pattern",
    [
        (
            {"points": [2, 12]},
            r"panels\.ab\.points: point 12 is beyond the 9 stitching points of model 'a' "
            r"\(resnet18\); use points 1\.\.9",
        ),
        ({"modes": {"kd": {}}}, r"panels\.ab\.modes\.kd: unknown stitching mode 'kd'"),
        (
            {"modes": {"fula": {"weights": [1.5] + [-0.5] + [0.0] * 6}}, "points": [2]},
            r"must be non-negative and sum to 1",
        ),
        ({"modes": {"fula": {"weights": [0.5] * 8}}, "points": [2]}, r"sum to 1"),
        ({"modes": {"fula": {"weights": [0.5, 0.5]}}, "points": [2]}, r"2 entries.* has 8 hint"),
        ({"front": "zzz"}, r"panels\.ab\.front: model 'zzz' is not under `models:`"),
        ({"modes": {"hint": {"soft": True}}}, r"modes\.hint: weights and soft apply to fula"),
        ({"modes": {"dm": {"recalibrate": "yes"}}}, r"recalibrate: input should be a valid bool"),
        ({"stitch": {"hint_norm": "l2"}}, r"panels\.ab\.stitch\.hint_norm: input should be"),
        ({"stitch": {"lr_drops": [5]}}, r"panels\.ab\.stitch: lr_drops are the epochs"),
    ],
    ids=[
        "point",
        "mode",
        "negative-weights",
        "weights-sum",
        "weights-length",
        "model",
        "soft-not-fula",
        "recalibrate-type",
        "hint-norm",
        "lr-drops",
    ],  # fmt: skip
)
def test_bad_panels(stitch_workdir, panel, pattern):
    workdir, params = stitch_workdir
    params["panels"]["ab"].update(panel)
    write_params(workdir, params)
    assert_clean_failure(run_stage("stitch", "ab", cwd=workdir), pattern, workdir)


def test_front_and_end_trained_on_inputs_of_different_shape(stitch_workdir):
    workdir, _ = stitch_workdir
    rgb = build_model(ModelSpec("resnet18", 10, 3, 4, (0.5,) * 3, (0.2,) * 3))
    save_model(rgb, workdir / "models/a.pt")
    result = run_stage("stitch", "ab", cwd=workdir)
    assert_clean_failure(result, r"must share one input shape", workdir)


def test_stitch_resumes_after_kill_with_the_uninterrupted_result(stitch_workdir, tmp_path):
    workdir, params = stitch_workdir
    params["stitch"]["epochs"] = 6
    write_params(workdir, params)
    assert run_stage("stitch", "ab", cwd=workdir).returncode == 0
    reference = (workdir / "reports/stitch/ab.json").read_bytes()
    (workdir / "reports/stitch/ab.json").unlink()
    checkpoint = workdir / "checkpoints/stitch-ab.pt"
    kill_after_checkpoint("stitch", "ab", workdir, checkpoint)
    assert not (workdir / "reports/stitch/ab.json").exists()
    assert run_stage("stitch", "ab", cwd=workdir).returncode == 0
    assert (workdir / "reports/stitch/ab.json").read_bytes() == reference


def test_cross_layer_panel_stitches_every_pair_and_draws_heatmaps(stitch_workdir):
    workdir, params = stitch_workdir
    panel = params["panels"]["ab"]
    del panel["points"]
    panel.update(front_points=[2, 6], end_points=[2, 6], modes={"hint": {}, "fula": {}})
    params["stitch"]["epochs"] = 1
    write_params(workdir, params)
    assert run_stage("stitch", "ab", cwd=workdir).returncode == 0
    report = json.loads((workdir / "reports/stitch/ab.json").read_text())
    pairs = {(r["mode"], r["front_point"], r["end_point"]) for r in report["results"]}
    assert pairs == {(m, i, j) for m in ("hint", "fula") for i in (2, 6) for j in (2, 6)}
    assert run_stage("report", "panels", cwd=workdir).returncode == 0
    assert (workdir / "reports/figures/panels/ab.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "change",
    [{"front_points": [2]}, {"end_points": [2]}, {"points": None}],
    ids=["points-and-front_points", "points-and-end_points", "no-points"],
)
def test_panel_needs_points_or_both_point_lists(stitch_workdir, change):
    workdir, params = stitch_workdir
    params["panels"]["ab"].update(change)
    if change.get("points", 1) is None:
        del params["panels"]["ab"]["points"]
    write_params(workdir, params)
    result = run_stage("stitch", "ab", cwd=workdir)
    assert_clean_failure(result, r"either points \(i = j\) or both front_points", workdir)
