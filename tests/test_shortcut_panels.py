"""Shortcut panels: stitches fitted on shortcut data, scored on the clean, shortcut and
rolled-shortcut test splits; the Fig. 8 grid and the Fig. 7 / 12 examples."""

import json

from conftest import run_stage, write_params

SHORTCUTS = {
    "digits-pixels": {"source": "digits", "kind": "pattern", "pattern": "pixels"},
    "digits-location": {"source": "digits", "kind": "location"},
}


def with_shortcut_panels(workdir, params) -> dict:
    params["shortcuts"] = SHORTCUTS
    params["panels"] = {
        name: {"front": "a", "end": "b", "data": name, "points": [2, 6]} for name in SHORTCUTS
    }
    params["stitch"]["epochs"] = 1
    write_params(workdir, params)
    for name in SHORTCUTS:
        assert run_stage("shortcut", name, cwd=workdir).returncode == 0
    return params


def test_shortcut_panel_scores_clean_and_shortcut_test_splits(stitch_workdir):
    workdir, params = stitch_workdir
    with_shortcut_panels(workdir, params)
    result = run_stage("stitch", "digits-pixels", cwd=workdir)
    assert result.returncode == 0, result.stderr
    report = json.loads((workdir / "reports/stitch/digits-pixels.json").read_text())
    assert report["data"] == "digits-pixels"
    assert 0 <= report["end_shortcut_accuracy"] <= 1 and 0 <= report["end_rolled_accuracy"] <= 1
    # a front of the shortcut set's clean dataset: scored on the panel's clean test images
    assert report["front_accuracy_on"] == "digits" and report["front_accuracy"] != 0.1
    for r in report["results"]:
        assert 0 <= r["test_accuracy"] <= 1 and 0 <= r["shortcut_test_accuracy"] <= 1
        assert 0 <= r["rolled_test_accuracy"] <= 1
    assert "shortcut" in result.stdout and "rolled" in result.stdout


def test_clean_panels_have_no_shortcut_scores(stitch_workdir):
    workdir, _ = stitch_workdir
    assert run_stage("stitch", "ab", cwd=workdir).returncode == 0
    report = json.loads((workdir / "reports/stitch/ab.json").read_text())
    assert report["end_shortcut_accuracy"] is None and report["end_rolled_accuracy"] is None
    assert all(r["shortcut_test_accuracy"] is None for r in report["results"])
    assert all(r["rolled_test_accuracy"] is None for r in report["results"])


def test_grid_and_examples_figures(stitch_workdir):
    workdir, params = stitch_workdir
    params = with_shortcut_panels(workdir, params)
    params["grids"] = {
        "fig8": {
            "title": "shortcuts",
            "columns": ["pixels", "location"],
            "rows": {"same-task": list(SHORTCUTS)},
        }
    }
    params["shortcut_examples"] = {"fig12": {"settings": list(SHORTCUTS), "per_row": 4}}
    write_params(workdir, params)
    missing = run_stage("report", "fig8", cwd=workdir)
    assert missing.returncode == 2 and "run `dvc repro stitch@digits-pixels`" in missing.stderr
    for name in SHORTCUTS:
        assert run_stage("stitch", name, cwd=workdir).returncode == 0
    assert run_stage("report", "panels", cwd=workdir).returncode == 0
    assert all((workdir / f"reports/figures/panels/{name}.pdf").exists() for name in SHORTCUTS)
    for figure in ("fig8", "fig12"):
        result = run_stage("report", figure, cwd=workdir)
        assert result.returncode == 0, result.stderr
        png = workdir / f"reports/figures/{figure}.png"
        first = png.read_bytes()
        assert first[:4] == b"\x89PNG" and len(first) > 5000
        assert run_stage("report", figure, cwd=workdir).returncode == 0
        assert png.read_bytes() == first  # reproducible


def test_grid_rows_must_match_the_columns(stitch_workdir):
    workdir, params = stitch_workdir
    params["grids"] = {"g": {"title": "t", "columns": ["a", "b"], "rows": {"r": ["ab"]}}}
    write_params(workdir, params)
    result = run_stage("report", "g", cwd=workdir)
    assert result.returncode == 2
    assert "grids.g.rows must map each row label to a list of 2 cells" in result.stderr


def test_a_grid_cell_draws_several_panels_of_one_front_and_end_together(stitch_workdir):
    """Fig. 3's cells: DM and Hint of one panel, recalibrated DM and Hint without running
    statistics of two more, in one plot with legend labels."""
    workdir, params = stitch_workdir
    params["stitch"]["epochs"] = 1
    params["panels"]["ab"]["modes"] = {"dm": {}, "hint": {}}
    base = {"front": "a", "end": "b", "data": "digits", "points": [2, 6]}
    params["panels"]["ab-rs"] = base | {
        "modes": {"dm-rs": {"objective": "dm", "recalibrate": True}}
    }
    params["panels"]["ab-frozen"] = base | {
        "stitch": {"bn": "frozen"},
        "modes": {"hint-frozen": {"objective": "hint"}},
    }
    labels = {"dm": "DM", "dm-rs": "DM + RS", "hint-frozen": "Hint", "hint": "Hint + RS"}
    params["grids"] = {
        "fig3": {
            "title": "t",
            "columns": ["same-task"],
            "rows": {"r": [["ab", "ab-rs", "ab-frozen"]]},
            "modes": labels,
        }
    }
    write_params(workdir, params)
    for panel in ("ab", "ab-rs", "ab-frozen"):
        assert run_stage("stitch", panel, cwd=workdir).returncode == 0
    report = json.loads((workdir / "reports/stitch/ab-rs.json").read_text())
    assert [r["recalibrated"] for r in report["results"]] == [True, True]
    result = run_stage("report", "fig3", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert (workdir / "reports/figures/fig3.png").stat().st_size > 5000
    params["panels"]["ab-rs"]["front"] = "b"  # a cell's panels must share front and end
    write_params(workdir, params)
    result = run_stage("report", "fig3", cwd=workdir)
    assert result.returncode == 2 and "need the same front, end and data" in result.stderr


def test_backdoor_stitching_on_iris_of_marked_images_draws_excess_agreement(stitch_workdir):
    """v2's backdoor testbed: IRIs made from marked training images, an IRI panel on the
    shortcut setting, scored on the matched and rolled splits, and its figure."""
    workdir, params = stitch_workdir
    params = with_shortcut_panels(workdir, params)
    params["iris"] = {"steps": 5, "step_size": "10/255", "samples": 64, "batch_size": 64}
    params["iri_sets"] = {
        f"a-pixels-{k}": {"front": "a", "data": "digits-pixels", "point": k} for k in (2, 6)
    }
    params["iri_panels"] = {"iris-pixels": dict(params["panels"]["digits-pixels"])}
    columns = {"pixels": ["digits-pixels", "iris-pixels"]}
    params["agreement_figures"] = {"backdoor": {"title": "t", "columns": columns, "excess": True}}
    write_params(workdir, params)
    for name in [*params["iri_sets"]]:
        assert run_stage("iris", name, cwd=workdir).returncode == 0
    for panel in ("digits-pixels", "iris-pixels"):
        done = run_stage("stitch", panel, cwd=workdir)
        assert done.returncode == 0, done.stderr
    report = json.loads((workdir / "reports/stitch/iris-pixels.json").read_text())
    assert report["train_on"] == "iris" and report["data"] == "digits-pixels"
    for r in report["results"]:
        assert set(r["agreement"]) == {"clean", "shortcut", "rolled"}
        assert 0 <= r["agreement"]["rolled"]["agreement_prob"] <= 1
    done = run_stage("report", "backdoor", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert (workdir / "reports/figures/backdoor.png").stat().st_size > 1000
