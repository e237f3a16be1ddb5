"""The takeaways checks on small fake result sets (JSON reports and per-sample outputs):
one where every claim of the papers holds, one where each is contradicted, and a suite
that measures none of them."""

import copy
import json
import re

import numpy as np
import pytest
import torch

from stitchkit.measures.samples import PanelSamples
from stitchkit.report.claims import CHECKS, CLAIM_NAMES, check_claims
from stitchkit.report.claims.base import TakeawayThresholds
from stitchkit.report.claims.cross_layer import directional_gap, shortfall
from stitchkit.report.figures import save_figure, verdict_forest
from stitchkit.report.run_report import takeaways_markdown, takeaways_metrics
from stitchkit.report.run_results import RunResults, stitch_key
from stitchkit.report.run_scalars import replicate_scalars
from stitchkit.report.verdicts import CONTRADICTED, HOLDS, INCONCLUSIVE, UNMEASURED

MODES = ("dm", "hint", "slm", "tlm", "fula")
TASK = ("slm", "tlm", "hint")
ROBUST = {"adversarial": {"alpha": 0.5}}
PARAMS = {
    "datasets": {"cifar": None, "other": None},
    "shortcuts": {"cifar-pixels": {"source": "cifar"}},
    "models": {
        "a0": {"dataset": "cifar", "arch": "resnet18"},
        "a1": {"dataset": "cifar", "arch": "resnet18"},
        "b0": {"dataset": "other", "arch": "resnet18"},
        "a0r": {"dataset": "cifar", "arch": "resnet18", "train": ROBUST},
        "a1r": {"dataset": "cifar", "arch": "resnet18", "train": ROBUST},
        "bias": {"dataset": "cifar-pixels", "arch": "resnet18"},
    },
    "panels": {
        "at1-cross": {
            "front": "b0",
            "end": "a0",
            "data": "cifar",
            "points": [5, 9],
            "adversarial": {"alpha": 1},
        },
        "at1-same": {"front": "a0", "end": "a1", "data": "cifar", "adversarial": {"alpha": 1}},
        "at1-same-r": {"front": "a0r", "end": "a1r", "data": "cifar", "adversarial": {"alpha": 1}},
        "shortcut-cross": {"front": "b0", "end": "a0", "data": "cifar-pixels"},
        "xl": {
            "front": "a0",
            "end": "a0",
            "data": "cifar",
            "front_points": [1, 5, 9],
            "end_points": [1, 5, 9],
            "modes": {
                "fula-first-1": {"objective": "fula", "weights": "first-1"},
                "fula-first-2": {"objective": "fula", "weights": "first-2"},
                "fula": {},  # every term: above first-3 on the ladder
                "fula-first-3": {"objective": "fula", "weights": "first-3"},
            },
        },
        "seed": {"front": "a1", "end": "a0", "data": "cifar"},
        "bias-natural": {"front": "bias", "end": "a0", "data": "cifar"},
    },
    "iri_panels": {
        "iris-seed": {"front": "a1", "end": "a0", "data": "cifar"},
        "iris-bias": {"front": "bias", "end": "a0", "data": "cifar"},
    },
    "subsets": {
        # named like a panel: its figures are the subset figures only
        "seed": {"front": "b0", "end": "a0", "data": "cifar", "point": 5, "classes": [1, 10]}
    },
    "subset_figures": {"fig9": {"series": {"cross-task": "seed"}}},
    "similarities": {"fig6": {"panels": {"c1": "at1-same", "c2": "at1-same-r"}}},
    "grids": {"fig4": {"rows": {"alpha 1": ["at1-cross", "at1-same"]}}},
    "cross_layer_figures": {"fig11": {"rows": {"self": "xl"}}},
    "agreement_figures": {
        "v2-info": {
            "columns": {
                "cross-seed": ["seed", "iris-seed"],
                "cross-bias": ["bias-natural", "iris-bias"],
            }
        }
    },
}


N = 2000  # test images of every fake panel: labels 0..9 in turn
LABELS = torch.arange(N, dtype=torch.int16) % 10


def stitch(mode, point, accuracy, **scores):
    return {
        "mode": mode,
        "front_point": point,
        "end_point": point,
        "test_accuracy": accuracy,
    } | scores


def nested(value: float) -> torch.Tensor:
    """The first round(value * N) test images right: stitches of one panel differ on a
    few images only, as real stitches of the same models do, so paired effects are sharp."""
    return torch.arange(N) < round(value * N)


def predictions(value: float) -> torch.Tensor:
    return torch.where(nested(value), LABELS, (LABELS + 1) % 10).to(torch.int16)


SPLITS = {
    "test_accuracy": "clean",
    "shortcut_test_accuracy": "shortcut",
    "robust_accuracy": "robust",
}


def per_sample(result: dict) -> dict:
    """The per-sample outputs whose means are the result's scores."""
    out = {}
    for score, split in SPLITS.items():
        if result.get(score) is not None:
            out[split] = {"pred": predictions(result[score])}
            if split == "robust":
                out[split] = {"correct": nested(result[score])}
    agreement = ((result.get("agreement") or {}).get("clean") or {}).get("agreement_prob")
    if agreement is not None:
        out.setdefault("clean", {"pred": predictions(result["test_accuracy"])})
        out["clean"]["agreement"] = nested(agreement).float()
    return out


def write(root, folder, name, report):
    """A stage's JSON report and, for a panel or series, its per-sample outputs."""
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / f"{name}.json").write_text(json.dumps({"panel": name} | report))
    if folder not in ("stitch", "subset"):
        return
    stitches = {stitch_key(r): per_sample(r) for r in report["results"]}
    splits = {split for entry in stitches.values() for split in entry}
    anchors = {}
    for role in ("front", "end"):
        if f"{role}_accuracy" in report:
            anchors[role] = {"clean": {"pred": predictions(report[f"{role}_accuracy"])}}
    prefix = "subset-" if folder == "subset" else ""
    path = root / "samples" / f"{prefix}{name}.pt"
    PanelSamples(dict.fromkeys(splits, LABELS), anchors, stitches).save(path)


def write_robustness(root, model: str, robust_accuracy: float):
    path = root / "samples" / f"robustness-{model}.pt"
    anchors = {model: {"robust": {"correct": nested(robust_accuracy)}}}
    PanelSamples({"robust": LABELS}, anchors, {}).save(path)


def adversarial_report(clean: dict, robust: dict, band=(0.9, 0.85, 0.0, 0.0), models=("a0", "a1")):
    front, end, front_robust, end_robust = band
    results = [stitch(m, k, clean[m], robust_accuracy=robust[m]) for m in clean for k in (5, 9)]
    return {
        "front": models[0],
        "end": models[1],
        "results": results,
        "front_accuracy": front,
        "end_accuracy": end,
        "front_robust_accuracy": front_robust,
        "end_robust_accuracy": end_robust,
    }


# row 2 peaks off the diagonal both ways; averaging lifts row 0's 0.1 by row 1's 0.95
# over row 0's own 0.5: the shortfall grows from 0.033 to 0.042
AVERAGING_DOES_NOT_HELP = [[0.5, 0.1, 0.1], [0.95, 0.99, 0.6], [0.1, 0.6, 0.5]]


def cross_layer_results(holds: bool) -> list[dict]:
    """FuLA-first-N matrices whose directional gap grows with N (shrinks if not holds)."""
    points, results = [1, 5, 9], []
    for mode, gap in (
        ("fula-first-1", 0.0),
        ("fula-first-2", 0.2),
        ("fula-first-3", 0.35),
        ("fula", 0.5),
    ):
        gap = gap if holds else 0.5 - gap
        for i, front in enumerate(points):
            for j, end in enumerate(points):
                accuracy = 0.9 if i == j else (0.4 + gap if i > j else 0.4)
                if holds and (i, j) == (2, 0):
                    accuracy = 0.95  # a deep row whose maximum is off the diagonal
                if not holds and mode == "fula-first-1":  # averaging widens the shortfall
                    accuracy = AVERAGING_DOES_NOT_HELP[i][j]
                results.append(
                    {
                        "mode": mode,
                        "front_point": front,
                        "end_point": end,
                        "test_accuracy": accuracy,
                    }
                )
    return results


def agreement_report(fula: float, tlm: float) -> dict:
    def result(mode, value):
        return stitch(mode, 9, value, agreement={"clean": {"agreement_prob": value}})

    return {"results": [result("fula", fula), result("tlm", tlm)]}


def fake_run(root, holds: bool):
    """reports/ where every claim holds (or, with holds False, each fails)."""
    good = lambda a, b: a if holds else b  # noqa: E731
    task_robust, align_robust = good(0.3, 0.0), 0.0
    task_clean, align_clean = good(0.5, 0.8), good(0.8, 0.5)
    clean = {
        "hint": align_clean + good(-0.01, 0.1),
        "fula": align_clean,
        "slm": task_clean,
        "tlm": task_clean,
    }
    robust = {"hint": align_robust, "fula": align_robust, "slm": task_robust, "tlm": task_robust}
    write(root, "stitch", "at1-cross", adversarial_report(clean, robust))
    same = {m: good(0.88, 0.6) for m in ("hint", "fula")} | {"slm": 0.7, "tlm": 0.7}
    write(root, "stitch", "at1-same", adversarial_report(same, robust))
    r_clean = {"hint": 0.8, "fula": good(0.8, 0.7), "slm": 0.7, "tlm": 0.7}
    r_robust = {m: 0.5 for m in r_clean}
    band = (0.8, 0.8, 0.5, 0.5)
    write(root, "stitch", "at1-same-r", adversarial_report(r_clean, r_robust, band, ("a0r", "a1r")))
    for model, robust_accuracy in (("a0", 0.0), ("a1", 0.0), ("a0r", 0.5), ("a1r", 0.5)):
        write_robustness(root, model, robust_accuracy)
    shortcut = [
        stitch(m, k, acc, shortcut_test_accuracy=sc)
        for m, acc, sc in [
            ("hint", 0.7, 0.7),
            ("fula", 0.7, 0.7),
            ("slm", good(0.5, 0.8), good(0.9, 0.8)),
            ("tlm", good(0.5, 0.8), good(0.9, 0.8)),
        ]
        for k in (5, 9)
    ]
    write(root, "stitch", "shortcut-cross", {"results": shortcut})
    at_1 = {"hint": 0.5, "slm": good(0.3, 0.7), "tlm": good(0.2, 0.7), "fula": 0.6}
    subset = [{"classes": 10, **stitch(m, 5, 0.8)} for m in MODES]
    subset += [{"classes": 1, **stitch(m, 5, v)} for m, v in at_1.items()]
    write(root, "subset", "seed", {"results": subset})
    write(root, "stitch", "xl", {"results": cross_layer_results(holds)})
    cka, fula = [0.9, 0.5, 0.7], [0.1, 0.6, 0.3]  # opposite orders at point 9: tau = -1
    configs, panels = {}, {}
    for label, c, f in zip(("c1", "c2", "c3"), cka, fula, strict=True):
        # at point 5 CKA's order reversed: the claim is the penultimate layer's only, the
        # deepest point of all three (c1's panel stitched there only)
        configs[label] = [
            {"point": 5, "cka": 1 - c, "fula_robust_accuracy": c},
            {"point": 9, "cka": c, "fula_robust_accuracy": good(f, c)},
        ][label == "c1" :]
        panels[label] = f"sim-{label}"
        results = [
            stitch("fula-last", 5, 0.8, robust_accuracy=c),
            stitch("fula-last", 9, 0.8, robust_accuracy=good(f, c)),
        ][label == "c1" :]
        write(root, "stitch", f"sim-{label}", {"results": results})
    report = {"configurations": configs, "panels": panels, "fula_mode": "fula-last"}
    write(root, "similarity", "fig6", report)
    write(root, "stitch", "seed", agreement_report(0.85, 0.85))
    write(root, "stitch", "bias-natural", agreement_report(good(0.8, 0.3), 0.8))
    write(root, "stitch", "iris-seed", agreement_report(0.8, 0.8))
    write(root, "stitch", "iris-bias", agreement_report(good(0.4, 0.75), good(0.78, 0.4)))
    return RunResults(root)


def verdicts_of(params, results, **thresholds):
    return {v.check: v for v in check_claims(params, results, TakeawayThresholds(**thresholds))}


def test_every_claim_holds_on_results_that_show_it(tmp_path):
    verdicts = verdicts_of(PARAMS, fake_run(tmp_path, holds=True))
    assert list(verdicts) == [check.__name__.replace("_", "-") for check in CHECKS]
    assert {c: v.verdict for c, v in verdicts.items()} == dict.fromkeys(verdicts, HOLDS)


def test_every_claim_is_contradicted_on_results_that_contradict_it(tmp_path):
    verdicts = verdicts_of(PARAMS, fake_run(tmp_path, holds=False))
    assert {c: v.verdict for c, v in verdicts.items()} == dict.fromkeys(verdicts, CONTRADICTED)


def self_matching_results() -> list[dict]:
    """Cross-layer results in which every layer matches itself best."""
    return [
        r | {"test_accuracy": 0.9 if r["front_point"] == r["end_point"] else 0.4}
        for r in cross_layer_results(holds=True)
    ]


def test_averaging_is_not_measured_when_every_layer_already_matches_itself(tmp_path):
    results = fake_run(tmp_path, holds=True)
    ceiling = self_matching_results()
    write(tmp_path, "stitch", "xl", {"results": ceiling})
    verdict = verdicts_of(PARAMS, results)["averaging-raises-self-accuracy"]
    assert verdict.verdict == UNMEASURED and "already matches itself" in verdict.note()


def test_a_suite_without_the_results_measures_nothing(tmp_path):
    params = {"models": PARAMS["models"], "panels": {}, "iri_panels": {}}
    verdicts = verdicts_of(params, RunResults(tmp_path))
    assert {v.verdict for v in verdicts.values()} == {UNMEASURED}
    assert all(v.figures == () for v in verdicts.values())


def effects(verdict) -> dict[str, float]:
    return {m.label: m.effect.value for m in verdict.measurements}


def test_the_effects_are_the_results(tmp_path):
    verdicts = verdicts_of(PARAMS, fake_run(tmp_path, holds=True))
    fabricated = verdicts["fabricated-robustness"]
    # only the non-robust alpha = 1 panels, SLM and TLM each against Hint/FuLA's mean
    assert effects(fabricated) == pytest.approx(
        {
            "at1-cross: SLM - Hint/FuLA robust accuracy": 0.3,
            "at1-cross: TLM - Hint/FuLA robust accuracy": 0.3,
            "at1-same: SLM - Hint/FuLA robust accuracy": 0.3,
            "at1-same: TLM - Hint/FuLA robust accuracy": 0.3,
        }
    )
    assert {m.effect.n for m in fabricated.measurements} == {N}
    assert fabricated.figures == ("fig4", "fig6")  # every figure that draws one of them
    exploited = effects(verdicts["shortcuts-exploited"])
    assert list(exploited.values()) == pytest.approx([0.4, 0.4])
    assert verdicts["subsets-task-modes-degrade-more"].figures == ("fig9",)
    assert list(effects(verdicts["subsets-task-modes-degrade-more"]).values()) == pytest.approx(
        [0.5 - 0.25, 0.6 - 0.25]
    )
    ladder = effects(verdicts["fula-terms-move-gradually"])
    # first-1 and every term share the off-diagonal 0.95 at (9, 1): gaps 0.183 and 0.517
    assert ladder["xl: directional gap, fula minus fula-first-1"] == pytest.approx(1 / 3)
    assert verdicts["cka-ranks-differently"].measurements[0].effect.value == pytest.approx(-1.0)
    iris = effects(verdicts["iris-fula-separates-bias"])
    assert list(iris.values()) == pytest.approx([0.4, 0.02])
    hidden = effects(verdicts["natural-data-hides-bias"])
    assert list(hidden.values()) == pytest.approx([0.4 - 0.05])


def test_intervals_are_paired_across_modes_on_the_same_images(tmp_path):
    results = fake_run(tmp_path, holds=True)
    rows = {r["mode"]: r for r in results.panel("shortcut-cross")["results"]}
    slm, tlm, hint = (results.draw("shortcut-cross", rows[m], "test_accuracy") for m in TASK)
    same = results.interval(slm - tlm, N)  # right on the same images: no spread at all
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)
    paired = results.interval(hint - slm, N)
    assert paired.value == pytest.approx(0.2) and paired.low < paired.value < paired.high
    assert paired.high - paired.low < 0.06  # about 4 standard errors of 0.2 of 2000 images


def test_a_threshold_decides_the_verdict(tmp_path):
    results = fake_run(tmp_path, holds=True)  # SLM/TLM robust accuracy 0.3 over Hint/FuLA
    assert verdicts_of(PARAMS, results, fabricated_robustness=0.25)[
        "fabricated-robustness"
    ].verdict == (HOLDS)
    assert verdicts_of(PARAMS, results, fabricated_robustness=0.35)[
        "fabricated-robustness"
    ].verdict == (CONTRADICTED)


def test_directional_gap_is_below_minus_above_the_diagonal():
    matrix = np.array([[1.0, 0.2, 0.4], [0.6, 1.0, 0.0], [0.8, 0.7, 1.0]])
    assert directional_gap(matrix) == pytest.approx((0.6 + 0.8 + 0.7) / 3 - (0.2 + 0.4 + 0.0) / 3)


def test_shortfall_is_how_far_layers_miss_themselves():
    matrix = np.array([[0.5, 0.9, 0.2], [0.1, 1.0, 0.3], [0.8, 0.7, 0.6]])
    assert shortfall(matrix) == pytest.approx((0.4 + 0.0 + 0.2) / 3)
    assert shortfall(np.eye(3)) == 0.0
    draws = np.stack([matrix, np.eye(3)], axis=-1)  # over a trailing axis of draws
    assert shortfall(draws) == pytest.approx([0.2, 0.0])


def test_report_lists_every_check_with_verdict_effects_and_figure_links(tmp_path):
    verdicts = check_claims(PARAMS, fake_run(tmp_path, holds=True), TakeawayThresholds())
    text = takeaways_markdown(PARAMS, verdicts)
    rows = [line for line in text.splitlines() if line.startswith("| ✓ holds")]
    assert len(rows) == len(CHECKS)
    assert tuple(v.check for v in verdicts) == CLAIM_NAMES
    assert "[fig4](figures/fig4.png)" in text
    row = r"at1-cross: SLM - Hint/FuLA robust accuracy: \+0\.300 \[\+0\.2\d\d, \+0\.3\d\d\], n=2000"
    assert re.search(row, text)
    assert "The papers' scale" in text and "This run: datasets cifar, other" in text
    assert "Of 14 checks, 14 hold, 0 are contradicted, 0 are inconclusive" in text
    assert "![Each claim's effect" in text
    summary = takeaways_metrics(verdicts)
    counts = ("holds", "contradicted", "inconclusive", "not_measured")
    assert tuple(summary[k] for k in counts) == (14, 0, 0, 0)
    directional = summary["checks"]["fula-directional"]
    assert directional["verdict"] == HOLDS and directional["holds"] == 1
    assert directional["deciding"]["effect"] == pytest.approx(0.5 + 0.05 / 3)
    assert directional["deciding"]["n"] == N and directional["deciding"]["side"] == "above"


def test_the_forest_plot_draws_every_claim(tmp_path):
    verdicts = check_claims(PARAMS, fake_run(tmp_path, holds=True), TakeawayThresholds())
    unmeasured = check_claims({"models": {}}, RunResults(tmp_path), TakeawayThresholds())[:1]
    figure = verdict_forest([*verdicts, *unmeasured])
    assert len(figure.axes[0].get_yticklabels()) == len(CHECKS) + 1
    paths = save_figure(figure, tmp_path / "verdicts")
    assert all(p.stat().st_size > 1000 for p in paths)


def test_averaging_leaves_out_a_panel_whose_layers_all_match_themselves(tmp_path):
    results = fake_run(tmp_path, holds=True)
    ceiling = self_matching_results()
    write(tmp_path, "stitch", "xl-flat", {"results": ceiling})
    params = PARAMS | {"panels": PARAMS["panels"] | {"xl-flat": PARAMS["panels"]["xl"]}}
    verdict = verdicts_of(params, results)["averaging-raises-self-accuracy"]
    assert verdict.verdict == HOLDS
    assert [m.label.split(":")[0] for m in verdict.measurements] == ["xl"]


def test_a_cross_layer_panel_of_hint_tlm_and_fula_is_no_ladder_of_fula_terms(tmp_path):
    # a mode's objective is its name: hint and tlm are not FuLA with every term
    results = fake_run(tmp_path, holds=True)
    modes = {"hint": {}, "tlm": {}, "fula": {}}
    panel = PARAMS["panels"]["xl"] | {"modes": modes}
    params = PARAMS | {"panels": PARAMS["panels"] | {"xl-modes": panel}}
    renamed = {"fula-first-1": "hint", "fula-first-2": "tlm", "fula": "fula"}
    write(
        tmp_path,
        "stitch",
        "xl-modes",
        {
            "results": [
                r | {"mode": renamed[r["mode"]]}
                for r in cross_layer_results(holds=True)
                if r["mode"] in renamed
            ]
        },
    )
    verdict = verdicts_of(params, results)["fula-terms-move-gradually"]
    assert {m.label.split(":")[0] for m in verdict.measurements} == {"xl"}


def test_the_v2_checks_read_a_panel_on_shortcut_data_on_its_marked_test_images(tmp_path):
    # the authors' cross-bias panels stitch and score on images with the front's marker
    fake_run(tmp_path, holds=True)
    for name, clean, marked in (("bias-natural", 0.3, 0.84), ("iris-bias", 0.4, 0.4)):
        report = agreement_report(clean, 0.8)
        write(tmp_path, "stitch", name, report)
        stitches = {}
        for r in report["results"]:
            value = marked if r["mode"] == "fula" else 0.8
            stitches[stitch_key(r)] = per_sample(r) | {
                "shortcut": {"pred": predictions(0.8), "agreement": nested(value).float()}
            }
        splits = {"clean": LABELS, "shortcut": LABELS}
        PanelSamples(splits, {}, stitches).save(tmp_path / "samples" / f"{name}.pt")
    on_markers = {"data": "cifar-pixels"}
    params = PARAMS | {
        "panels": PARAMS["panels"]
        | {"bias-natural": PARAMS["panels"]["bias-natural"] | on_markers},
        "iri_panels": PARAMS["iri_panels"]
        | {"iris-bias": PARAMS["iri_panels"]["iris-bias"] | on_markers},
    }
    verdict = verdicts_of(params, RunResults(tmp_path))["natural-data-hides-bias"]
    # on the marked images the natural gap is 0.85 - 0.84, on IRIs 0.8 - 0.4
    (m,) = verdict.measurements
    assert m.effect.value == pytest.approx((0.8 - 0.4) - (0.85 - 0.84))


def test_a_panel_and_its_replicates_are_judged_as_one_effect_over_seeds(tmp_path):
    results = fake_run(tmp_path, holds=True)  # at1-same: SLM/TLM robust accuracy 0.3 over
    params = copy.deepcopy(PARAMS)

    def with_agreement(report: dict) -> dict:  # as real stitch reports: a dict of splits
        for r in report["results"]:
            r["agreement"] = {"clean": {"agreement_prob": 0.9}}
        return report

    main = json.loads((tmp_path / "stitch" / "at1-same.json").read_text())
    write(tmp_path, "stitch", "at1-same", with_agreement(main))
    for gain, (front, end) in ((0.25, ("a2", "a3")), (0.35, ("a4", "a5"))):
        for model in (front, end):
            params["models"][model] = {"dataset": "cifar", "arch": "resnet18", "seed": 2}
            write_robustness(tmp_path, model, 0.0)
        name = f"at1-same-{front}"
        params["panels"][name] = {
            "front": front,
            "end": end,
            "data": "cifar",
            "points": [9],
            "adversarial": {"alpha": 1},
            "replicate_of": "at1-same",
        }
        # its own seeds: point 9 only, no DM; SLM and TLM gain `gain` over Hint/FuLA
        clean = {"hint": 0.88, "fula": 0.88, "slm": 0.7, "tlm": 0.7}
        robust = {"hint": 0.0, "fula": 0.0, "slm": gain, "tlm": gain}
        report = adversarial_report(clean, robust, models=(front, end))
        report["results"] = [r for r in report["results"] if r["front_point"] == 9]
        write(tmp_path, "stitch", name, with_agreement(report))
    fabricated = verdicts_of(params, results)["fabricated-robustness"]
    same = {m.label: m.effect for m in fabricated.measurements if m.label.startswith("at1-same")}
    # the replicates are no panels of their own; the group is one effect over 3 seeds,
    # judged on the stitches all three have (point 9)
    assert set(same) == {f"at1-same: {m} - Hint/FuLA robust accuracy" for m in ("SLM", "TLM")}
    for effect in same.values():
        assert (effect.value, effect.replicates, effect.n) == (pytest.approx(0.3), 3, N)
        spread = np.std([0.3, 0.25, 0.35], ddof=1) / np.sqrt(3)
        assert 0.3 - effect.low > 3 * spread  # t with few degrees of freedom: wide
    assert fabricated.verdict == HOLDS
    # three seeds that disagree more do not decide it
    wide = verdicts_of(params, results, fabricated_robustness=0.2)["fabricated-robustness"]
    assert wide.verdict == INCONCLUSIVE and "replicates, now 3" in wide.note()
    # the spread across the replicates is a scalar of its own, apart from the intervals
    members = ["at1-same", "at1-same-a2", "at1-same-a4"]
    # (reports as the takeaways stage has them: with intervals; a result's agreement
    # is a dict of splits, its interval the clean split's)
    spread = replicate_scalars([results.with_intervals(p, results.panel(p)) for p in members])
    assert spread["slm"]["agreement"]["p9"]["mean"] == pytest.approx(0.9)
    assert set(spread["slm"]["robust_accuracy"]) == {"p9"}  # the shared stitches only
    assert spread["slm"]["robust_accuracy"]["p9"] == pytest.approx(
        {"mean": 0.3, "std": 0.05, "min": 0.25, "max": 0.35, "replicates": 3}
    )
