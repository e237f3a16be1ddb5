"""The takeaways checks on tiny fake result sets: one where every claim of the papers
holds, one where each fails, and a suite that measures none of them."""

import json

import numpy as np
import pytest

from stitchkit.run_report import takeaways_markdown, takeaways_metrics
from stitchkit.takeaways import (
    CHECKS,
    FAILS,
    HOLDS,
    UNMEASURED,
    RunResults,
    TakeawayThresholds,
    check_claims,
    directional_gap,
)

MODES = ("dm", "hint", "slm", "tlm", "fula")
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


def stitch(mode, point, accuracy, **scores):
    return {
        "mode": mode,
        "front_point": point,
        "end_point": point,
        "test_accuracy": accuracy,
    } | scores


def write(root, folder, name, report):
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / f"{name}.json").write_text(json.dumps({"panel": name} | report))


def adversarial_report(clean: dict, robust: dict, band=(0.9, 0.85, 0.0, 0.0)):
    front, end, front_robust, end_robust = band
    results = [stitch(m, k, clean[m], robust_accuracy=robust[m]) for m in clean for k in (5, 9)]
    return {
        "results": results,
        "front_accuracy": front,
        "end_accuracy": end,
        "front_robust_accuracy": front_robust,
        "end_robust_accuracy": end_robust,
    }


# rows 0 and 2 peak off the diagonal, in both directions and averaged over them
AVERAGING_DOES_NOT_HELP = [[0.5, 0.45, 0.86], [0.8, 0.9, 0.4], [0.95, 0.4, 0.9]]


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
                if not holds and mode == "fula-first-1":  # averaging leaves 1/3 at 1/3
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
    write(root, "stitch", "at1-same-r", adversarial_report(r_clean, r_robust, (0.8, 0.8, 0.5, 0.5)))
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
    subset = [{"classes": 10, "mode": m, "test_accuracy": 0.8} for m in MODES]
    subset += [{"classes": 1, "mode": m, "test_accuracy": v} for m, v in at_1.items()]
    write(root, "subset", "seed", {"results": subset})
    write(root, "stitch", "xl", {"results": cross_layer_results(holds)})
    cka, fula = [0.9, 0.5], [0.1, 0.6]  # opposite orders: tau = -1
    configs = {
        label: [{"point": 9, "cka": c, "fula_robust_accuracy": good(f, c)}]
        for label, c, f in zip(("c1", "c2", "c3"), [*cka, 0.7], [*fula, 0.3], strict=True)
    }
    write(root, "similarity", "fig6", {"configurations": configs})
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


def test_every_claim_fails_on_results_that_contradict_it(tmp_path):
    verdicts = verdicts_of(PARAMS, fake_run(tmp_path, holds=False))
    assert {c: v.verdict for c, v in verdicts.items()} == dict.fromkeys(verdicts, FAILS)


def test_averaging_is_not_measured_when_every_layer_already_matches_itself(tmp_path):
    results = fake_run(tmp_path, holds=True)
    ceiling = [
        r | {"test_accuracy": 0.9 if r["front_point"] == r["end_point"] else 0.4}
        for r in cross_layer_results(holds=True)
    ]
    write(tmp_path, "stitch", "xl", {"results": ceiling})
    verdict = verdicts_of(PARAMS, results)["averaging-raises-self-accuracy"]
    assert verdict.verdict == UNMEASURED and set(verdict.compared.values()) == {1.0}


def test_a_suite_without_the_results_measures_nothing(tmp_path):
    params = {"models": PARAMS["models"], "panels": {}, "iri_panels": {}}
    verdicts = verdicts_of(params, RunResults(tmp_path))
    assert {v.verdict for v in verdicts.values()} == {UNMEASURED}
    assert all(v.figures == () for v in verdicts.values())


def test_the_numbers_compared_are_the_results(tmp_path):
    verdicts = verdicts_of(PARAMS, fake_run(tmp_path, holds=True))
    fabricated = verdicts["fabricated-robustness"]
    # only the non-robust alpha = 1 panels; robust accuracy averaged over points and modes
    assert fabricated.compared == {
        "at1-cross SLM/TLM robust": 0.3,
        "at1-cross Hint/FuLA robust": 0.0,
        "at1-same SLM/TLM robust": 0.3,
        "at1-same Hint/FuLA robust": 0.0,
    }
    assert fabricated.figures == ("fig4", "fig6")  # every figure that draws one of them
    assert verdicts["shortcuts-exploited"].compared["mean"] == pytest.approx(0.4)
    assert verdicts["subsets-task-modes-degrade-more"].figures == ("fig9",)
    ladder = verdicts["fula-terms-move-gradually"].compared  # FuLA with every term last
    assert list(ladder) == [f"xl fula{n} gap" for n in ("-first-1", "-first-2", "-first-3", "")]
    assert list(ladder.values()) == sorted(ladder.values())
    assert verdicts["subsets-task-modes-degrade-more"].compared == pytest.approx(
        {"seed SLM loss": 0.5, "seed TLM loss": 0.6, "seed FuLA loss": 0.2}
    )
    self_accuracy = verdicts["averaging-raises-self-accuracy"].compared
    assert self_accuracy["xl fula self-accuracy"] == pytest.approx(2 / 3)
    assert self_accuracy["xl fula averaged"] == 1.0
    assert verdicts["cka-ranks-differently"].compared["mean tau"] == pytest.approx(-1.0)
    iris = verdicts["iris-fula-separates-bias"].compared
    assert iris["v2-info p9 FuLA seed"] - iris["v2-info p9 FuLA bias"] == pytest.approx(0.4)
    hidden = verdicts["natural-data-hides-bias"].compared  # both gaps it compares
    assert hidden == pytest.approx(
        {
            "v2-info p9 FuLA seed natural": 0.85,
            "v2-info p9 FuLA bias natural": 0.8,
            "v2-info p9 FuLA seed IRIs": 0.8,
            "v2-info p9 FuLA bias IRIs": 0.4,
        }
    )


def test_a_threshold_decides_the_verdict(tmp_path):
    results = fake_run(tmp_path, holds=True)  # SLM/TLM robust accuracy 0.3 over Hint/FuLA
    assert verdicts_of(PARAMS, results, fabricated_robustness=0.3)[
        "fabricated-robustness"
    ].verdict == (HOLDS)
    assert verdicts_of(PARAMS, results, fabricated_robustness=0.31)[
        "fabricated-robustness"
    ].verdict == (FAILS)


def test_directional_gap_is_below_minus_above_the_diagonal():
    matrix = np.array([[1.0, 0.2, 0.4], [0.6, 1.0, 0.0], [0.8, 0.7, 1.0]])
    assert directional_gap(matrix) == pytest.approx((0.6 + 0.8 + 0.7) / 3 - (0.2 + 0.4 + 0.0) / 3)


def test_report_lists_every_check_with_verdict_numbers_and_figure_links(tmp_path):
    verdicts = check_claims(PARAMS, fake_run(tmp_path, holds=True), TakeawayThresholds())
    text = takeaways_markdown(PARAMS, verdicts)
    rows = [line for line in text.splitlines() if line.startswith("| ✓ holds")]
    assert len(rows) == len(CHECKS)
    assert "[fig4](figures/fig4.png)" in text and "at1-cross SLM/TLM robust: 0.300" in text
    assert "The papers' scale" in text and "This run: datasets cifar, other" in text
    assert "Of 14 checks, 14 hold, 0 do not hold, 0 are not measured by this suite." in text
    summary = takeaways_metrics(verdicts)
    assert (summary["holds"], summary["does_not_hold"], summary["not_measured"]) == (14, 0, 0)
    assert summary["checks"]["fula-directional"] == {
        "verdict": HOLDS,
        "holds": 1,
        "compared": {"xl FuLA gap": pytest.approx(0.5 + 0.05 / 3)},
    }
