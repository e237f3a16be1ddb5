"""Figure layout: grids keep each panel's own axis; v2's figures colour by training data."""

import pytest

from stitchkit.report import figures


def _panel(end_points: int, accuracy: float) -> dict:
    results = [
        {"mode": "fula", "front_point": k, "end_point": k, "test_accuracy": accuracy}
        for k in range(1, end_points + 1)
    ]
    return {
        "results": results,
        "end_points": end_points,
        "end_accuracy": 0.9,
        "front_accuracy": 0.8,
        "front": "f",
        "end": "g",
        "data": "natural",
    }


def test_a_grid_of_architectures_with_different_point_counts_keeps_each_axis():
    fig = figures.stitching_grid(
        [[_panel(9, 0.7), _panel(6, 0.6), _panel(5, 0.5)]],
        ["same-task"],
        ["ResNet18", "VGG16-BN", "ViT"],
        "architectures",
    )
    labels = [[t.get_text() for t in ax.get_xticklabels()] for ax in fig.axes]
    assert labels[0] == ["end", *map(str, range(1, 10)), "front"]
    assert labels[1] == ["end", *map(str, range(1, 7)), "front"]
    assert labels[2] == ["end", *map(str, range(1, 6)), "front"]
    assert [ax.get_xlim()[1] for ax in fig.axes] == [10.3, 7.3, 6.3]
    assert [ax.lines[0].get_xdata()[-1] for ax in fig.axes] == [10, 7, 6]


def test_a_grid_leaves_out_a_mode_that_a_panel_does_not_train():
    full = _panel(9, 0.7)
    full["results"] += [r | {"mode": "tlm", "test_accuracy": 0.5} for r in full["results"]]
    fig = figures.stitching_grid(
        [[full, _panel(9, 0.6)]], ["alpha = 1"], ["nr -> nr", "r -> r"], "t", ["fula", "tlm"]
    )
    # a line per trained mode; none from the end's to the front's accuracy for TLM
    labelled = [
        [line.get_label() for line in ax.lines if line.get_label()[0] != "_"] for ax in fig.axes
    ]
    assert labelled == [["FuLA", "TLM"], ["FuLA"]]


def _agreement_panel(train_on: str, agreement: float, front_agreement) -> dict:
    results = [
        {
            "mode": mode,
            "objective": mode,
            "front_point": k,
            "end_point": k,
            "agreement": {"clean": {"agreement_prob": agreement}},
        }
        for mode in ("dm", "fula", "tlm")
        for k in (1, 5, 9)
    ]
    panel = {"results": results, "end_points": 9, "train_on": train_on}
    return panel | {"front_agreement": front_agreement}


def test_v2_figure_draws_natural_and_iri_stitches_in_two_colours_with_the_anchors():
    columns = {
        "identical": (
            _agreement_panel("natural", 0.99, {"agreement_prob": 1.0}),
            _agreement_panel("iris", 0.97, {"agreement_prob": 1.0}),
        ),
        "cross-task": (  # a front of another task has no agreement with the end
            _agreement_panel("natural", 0.9, None),
            _agreement_panel("iris", 0.3, None),
        ),
    }
    fig = figures.agreement_figure({"": ("clean", columns)}, "v2", "agreement_prob")
    identical, cross_task = fig.axes[:2]
    curves = [line for line in identical.lines if line.get_marker() != "X"]
    colours = {line.get_color(): list(line.get_ydata()) for line in curves}
    # DM is left out by default: FuLA and TLM, once per training data
    assert len(curves) == 4 and set(colours) == set(figures.DATA_COLORS.values())
    assert colours[figures.DATA_COLORS["iris"]] == [97.0] * 3
    anchors = [line for line in identical.lines if line.get_marker() == "X"]
    assert list(anchors[0].get_xdata()) == [0, 10] and list(anchors[0].get_ydata()) == [100, 100]
    anchors = [line for line in cross_task.lines if line.get_marker() == "X"]
    assert list(anchors[0].get_xdata()) == [0]  # the end with itself only
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [
        "trained on natural images", "trained on IRIs", "FuLA", "TLM", "end / front model"
    ]  # fmt: skip


def agreement_panel(train_on: str, splits: dict[str, float], **front_extra: float) -> dict:
    """A v2 panel report: FuLA at points 5 and 9 with agreement ``splits`` (split ->
    agreement probability), the front's agreement 0.8 and ``front_extra`` ones."""
    results = [
        {
            "mode": "fula",
            "front_point": k,
            "end_point": k,
            "agreement": {split: {"agreement_prob": v} for split, v in splits.items()},
        }
        for k in (5, 9)
    ]
    front = {"front_agreement": {"agreement_prob": 0.8}}
    front |= {key: {"agreement_prob": v} for key, v in front_extra.items()}
    return {"results": results, "end_points": 9, "train_on": train_on} | front


def test_v2_figure_reads_a_panel_on_shortcut_data_on_its_marked_test_images():
    # the authors' cross-bias panels score on test images with their class's marker
    def panel(train_on: str, clean: float, marked: float) -> dict:
        splits = {"clean": clean, "shortcut": marked, "rolled": 0.0}
        return agreement_panel(train_on, splits, front_shortcut_agreement=0.6)

    columns = {"cross-bias": (panel("natural", 0.9, 0.85), panel("iris", 0.7, 0.2))}
    fig = figures.agreement_figure({"": ("clean", columns)}, "v2", "agreement_prob")
    ax = fig.axes[0]
    curves = {line.get_color(): list(line.get_ydata()) for line in ax.lines[:2]}
    assert curves[figures.DATA_COLORS["natural"]] == pytest.approx([85, 85])
    assert curves[figures.DATA_COLORS["iris"]] == pytest.approx([20, 20])
    (anchors,) = [line for line in ax.lines if line.get_marker() == "X"]
    assert list(anchors.get_ydata()) == pytest.approx([100, 60])


def test_v2_adversarial_figure_reads_its_alpha_1_row_on_the_attacked_images():
    def panel(train_on: str, clean: float, attacked: float) -> dict:
        splits = {"clean": clean, "robust": attacked}
        return agreement_panel(train_on, splits, front_robust_agreement=0.1)

    pair = (panel("natural", 0.9, 0.3), panel("iris", 0.7, 0.2))
    rows = {
        "α = 0": ("clean", {"nr → nr": pair, "r → r": pair}),
        "α = 1": ("robust", {"nr → nr": pair}),
    }
    fig = figures.agreement_figure(rows, "adversarial", "agreement_prob")
    clean_axes, robust_axes = fig.axes[:2], fig.axes[2:]
    assert [ax.get_visible() for ax in robust_axes] == [True, False]  # a shorter row
    for ax, natural, iris, front in [(clean_axes[0], 90, 70, 80), (robust_axes[0], 30, 20, 10)]:
        curves = {line.get_color(): list(line.get_ydata()) for line in ax.lines[:2]}
        assert curves[figures.DATA_COLORS["natural"]] == pytest.approx([natural] * 2)
        assert curves[figures.DATA_COLORS["iris"]] == pytest.approx([iris] * 2)
        (anchors,) = [line for line in ax.lines if line.get_marker() == "X"]
        assert list(anchors.get_ydata()) == pytest.approx([100, front])
    assert clean_axes[0].get_ylabel() == "α = 0\nagreement probability (%)"
    assert robust_axes[0].get_ylabel() == "α = 1 on attacked images\nagreement probability (%)"


def test_v2_cka_figure_draws_fula_and_cka_on_both_data_in_the_same_colours():
    natural = _agreement_panel("natural", 0.9, {"agreement_prob": 0.5})
    iris = _agreement_panel("iris", 0.4, {"agreement_prob": 0.5})
    cka = {"points": [1, 5, 9], "natural": [0.8, 0.6, 0.7], "iris": [0.5, 0.2, 0.1]}
    fig = figures.cka_figure({"cross-bias": (natural, iris, cka)}, "v2 CKA", "fula")
    (ax,) = fig.axes
    curves = [line for line in ax.lines if line.get_marker() != "X"]
    fula = {c.get_color(): list(c.get_ydata()) for c in curves if c.get_marker() != "s"}
    squares = {c.get_color(): list(c.get_ydata()) for c in curves if c.get_marker() == "s"}
    assert fula == {
        figures.DATA_COLORS["natural"]: [90.0] * 3,
        figures.DATA_COLORS["iris"]: [40.0] * 3,
    }
    assert squares == {
        figures.DATA_COLORS["natural"]: pytest.approx([80.0, 60.0, 70.0]),
        figures.DATA_COLORS["iris"]: pytest.approx([50.0, 20.0, 10.0]),
    }
    assert [c.get_xdata().tolist() for c in curves if c.get_marker() == "s"] == [[1, 5, 9]] * 2
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == ["natural images", "IRIs"] and legend[-2] == "CKA (on the data)"


def test_v2_backdoor_figure_draws_matched_minus_rolled_agreement_from_zero_at_the_end():
    def panel(train_on: str, matched: float, rolled: float) -> dict:
        results = [
            {
                "mode": "fula",
                "objective": "fula",
                "front_point": k,
                "end_point": k,
                "agreement": {
                    "clean": {"agreement_prob": 0.5},
                    "shortcut": {"agreement_prob": matched},
                    "rolled": {"agreement_prob": rolled},
                },
            }
            for k in (5, 9)
        ]
        return {"results": results, "end_points": 9, "train_on": train_on}

    columns = {"pixels": (panel("natural", 0.9, 0.3), panel("iris", 0.4, 0.35))}
    rows = {"": ("clean", columns)}
    fig = figures.agreement_figure(rows, "backdoor", "agreement_prob", excess=True)
    (ax,) = fig.axes
    curves = {line.get_color(): list(line.get_ydata()) for line in ax.lines[:2]}
    assert curves[figures.DATA_COLORS["natural"]] == pytest.approx([60.0, 60.0])
    assert curves[figures.DATA_COLORS["iris"]] == pytest.approx([5.0, 5.0])
    (anchors,) = [line for line in ax.lines if line.get_marker() == "X"]
    assert list(anchors.get_xdata()) == [0] and list(anchors.get_ydata()) == [0.0]
    assert ax.get_ylabel().startswith("excess agreement probability")
    assert ax.get_ylim() == (-10.0, 102.0)  # room below 0, where no stitch reads markers
