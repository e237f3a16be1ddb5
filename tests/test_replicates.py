"""Averaging a v2 figure column over its fronts (mean_panel_report)."""

import pytest
from test_takeaways import write

from stitchkit.common.errors import UserError
from stitchkit.report.figures import DATA_COLORS
from stitchkit.report.replicates import mean_panel_report


def report(panel: str, front: str, agreements: list[float], front_agreement: float) -> dict:
    results = [
        {
            "mode": "fula",
            "front_point": k,
            "end_point": k,
            "accuracy": 0.5 + value / 4,
            "test_accuracy": 0.5 + value / 4,
            "agreement": {"clean": {"agreement_prob": value, "hard_kappa": value - 0.5}},
        }
        for k, value in zip((1, 5), agreements, strict=True)
    ]
    return {
        "panel": panel, "front": front, "end": "e", "end_points": 9, "train_on": "natural",
        "front_agreement": {"agreement_prob": front_agreement}, "results": results,
    }  # fmt: skip


def test_the_mean_report_averages_each_stitch_and_the_front_over_replicates():
    mean = mean_panel_report(
        [report("p1", "f1", [0.9, 0.6], 0.3), report("p2", "f2", [0.7, 0.2], 0.5)]
    )
    assert mean["replicates"] == ["p1", "p2"]
    assert mean["front_agreement"]["agreement_prob"] == pytest.approx(0.4)
    first, second = mean["results"]
    assert (first["front_point"], second["front_point"]) == (1, 5)
    assert first["agreement"]["clean"]["agreement_prob"] == pytest.approx(0.8)
    assert second["agreement"]["clean"]["hard_kappa"] == pytest.approx(-0.1)
    assert second["accuracy"] == pytest.approx(0.6)
    # what the replicates share is kept as it is, integers included
    assert mean["end_points"] == 9 and mean["end"] == "e" and mean["train_on"] == "natural"


def test_one_replicate_is_its_own_mean_and_mismatched_replicates_are_refused():
    one = report("p1", "f1", [0.9, 0.6], 0.3)
    assert mean_panel_report([one]) == one | {"replicates": ["p1"]}
    other = report("p2", "f2", [0.7, 0.2], 0.5)
    other["results"] = other["results"][:1]
    with pytest.raises(UserError, match=r"replicate panels \['p1', 'p2'\] must stitch the same"):
        mean_panel_report([one, other])


def test_an_averaged_figure_column_draws_the_mean_of_its_fronts(stitch_workdir, monkeypatch):
    from stages import figures

    workdir, params = stitch_workdir
    params["iri_sets"] = {
        f"{m}-{k}": {"front": m, "data": "digits", "point": k} for m in "ab" for k in (2, 6)
    }
    params["panels"]["bb"] = {"front": "b", "end": "b", "data": "digits", "points": [2, 6]}
    params["iri_panels"] = {f"{p}-iris": dict(params["panels"][p]) for p in ("ab", "bb")}
    pairs = [["ab", "ab-iris"], ["bb", "bb-iris"]]
    params["agreement_figures"] = {"v2": {"title": "t", "columns": {"two fronts": pairs}}}
    agreements = {"ab": 0.6, "ab-iris": 0.2, "bb": 1.0, "bb-iris": 0.8}
    monkeypatch.chdir(workdir)
    for panel, value in agreements.items():
        fake = report(panel, panel[0], [value, value], 0.5)
        fake["train_on"] = "iris" if panel.endswith("-iris") else "natural"
        write(workdir / "reports", "stitch", panel, fake)  # the report and its samples
    fig = figures.agreement_figure(params, "v2").draw()
    ax = fig.axes[0]
    assert ax.get_title() == "two fronts\n(mean of 2 fronts)"
    curves = {
        line.get_color(): list(line.get_ydata()) for line in ax.lines if line.get_marker() != "X"
    }
    assert curves[DATA_COLORS["natural"]] == pytest.approx([80.0, 80.0])
    assert curves[DATA_COLORS["iris"]] == pytest.approx([50.0, 50.0])


def test_each_averaged_stitch_keeps_its_spread_across_replicates():
    mean = mean_panel_report(
        [report("p1", "f1", [0.9, 0.6], 0.3), report("p2", "f2", [0.7, 0.2], 0.5)]
    )
    spread = mean["results"][0]["spread"]["agreement_prob"]
    assert spread["replicates"] == 2 and (spread["min"], spread["max"]) == (0.7, 0.9)
    assert spread["std"] == pytest.approx(0.1414, abs=1e-4)
