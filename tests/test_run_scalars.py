"""Every stitching scalar as DVC reads metrics (nested numbers, no lists) and curves."""

from test_takeaways import cross_layer_results

from stitchkit.run_scalars import curves, panel_scalars, series_scalars


def test_a_panel_gives_each_mode_s_scores_by_point_and_skips_missing_ones():
    report = {
        "results": [
            {
                "mode": "hint",
                "front_point": k,
                "end_point": k,
                "test_accuracy": 0.5 + k / 100,
                "robust_accuracy": None,
                "agreement": {"clean": {"agreement_prob": 0.9}},
            }
            for k in (9, 5)
        ]
    }
    assert panel_scalars(report) == {
        "hint": {"accuracy": {"p5": 0.55, "p9": 0.59}, "agreement": {"p5": 0.9, "p9": 0.9}}
    }
    assert curves(report) == {"hint": "point,accuracy\n5,0.55\n9,0.59\n"}


def test_a_cross_layer_panel_gives_pairs_and_self_accuracy_both_ways():
    scalars = panel_scalars({"results": cross_layer_results(holds=True)})
    fula = scalars["fula"]
    assert fula["accuracy"]["p9-p1"] == 0.95 and fula["accuracy"]["p5"] == 0.9
    assert fula["self_accuracy"] == 2 / 3  # point 9's row peaks at point 1 (0.95 > 0.9)
    assert fula["self_accuracy_non_directional"] == 1.0  # (0.95 + 0.4) / 2 < 0.9
    assert curves({"results": cross_layer_results(holds=True)}) == {}


def test_a_class_subset_series_gives_accuracy_by_class_count():
    report = {"results": [{"mode": "fula", "classes": k, "test_accuracy": k / 10} for k in (1, 10)]}
    assert series_scalars(report) == {"fula": {"k1": 0.1, "k10": 1.0}}
