"""Every stitching scalar as DVC reads metrics (nested numbers, no lists) and curves,
each score with its 95% interval and n from the per-sample outputs."""

import pytest
from test_takeaways import N, cross_layer_results, stitch, write

from stitchkit.report.run_results import RunResults
from stitchkit.report.run_scalars import curves, panel_scalars, series_scalars


def test_a_panel_gives_each_mode_s_scores_with_intervals_by_point(tmp_path):
    results = [
        stitch("hint", k, 0.5 + k / 100, agreement={"clean": {"agreement_prob": 0.9}})
        | {"robust_accuracy": None}
        for k in (9, 5)
    ]
    write(tmp_path, "stitch", "panel", {"results": results})
    run = RunResults(tmp_path)
    report = run.with_intervals("panel", run.panel("panel"))
    scalars = panel_scalars(report)
    assert set(scalars["hint"]) == {"accuracy", "agreement"}  # no robust accuracy: skipped
    p5 = scalars["hint"]["accuracy"]["p5"]
    assert p5["value"] == pytest.approx(0.55) and p5["n"] == N
    assert p5["low"] < 0.55 < p5["high"] and p5["high"] - p5["low"] < 0.06
    assert scalars["hint"]["agreement"]["p9"]["value"] == pytest.approx(0.9)
    lines = curves(report)["hint"].splitlines()
    assert lines[0] == "point,accuracy,low,high,n"
    assert [line.split(",")[0] for line in lines[1:]] == ["5", "9"]
    assert lines[1].endswith(f",{N}")


def test_a_cross_layer_panel_gives_pairs_and_self_accuracy_both_ways(tmp_path):
    write(tmp_path, "stitch", "xl", {"results": cross_layer_results(holds=True)})
    run = RunResults(tmp_path)
    report = run.with_intervals("xl", run.panel("xl"))
    fula = panel_scalars(report)["fula"]
    assert fula["accuracy"]["p9-p1"]["value"] == 0.95 and fula["accuracy"]["p5"]["value"] == 0.9
    assert fula["self_accuracy"] == 2 / 3  # point 9's row peaks at point 1 (0.95 > 0.9)
    assert fula["self_accuracy_non_directional"] == 1.0  # (0.95 + 0.4) / 2 < 0.9
    assert curves(report) == {}


def test_a_class_subset_series_gives_accuracy_by_class_count(tmp_path):
    results = [{"classes": k} | stitch("fula", 5, k / 10) for k in (1, 10)]
    write(tmp_path, "subset", "series", {"results": results})
    run = RunResults(tmp_path)
    scalars = series_scalars(run.with_intervals("subset-series", run.series("series")))
    assert scalars["fula"]["k1"]["value"] == pytest.approx(0.1)
    assert scalars["fula"]["k10"] == {"value": 1.0, "low": 1.0, "high": 1.0, "n": N}
