"""Figure layout: grids keep each panel's own axis; v2's figures colour by training data."""

from stitchkit import plotting


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
    fig = plotting.stitching_grid(
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
    fig = plotting.agreement_figure(columns, "v2", "agreement_prob")
    identical, cross_task = fig.axes[:2]
    curves = [line for line in identical.lines if line.get_marker() != "X"]
    colours = {line.get_color(): list(line.get_ydata()) for line in curves}
    # DM is left out by default: FuLA and TLM, once per training data
    assert len(curves) == 4 and set(colours) == set(plotting.DATA_COLORS.values())
    assert colours[plotting.DATA_COLORS["iris"]] == [97.0] * 3
    anchors = [line for line in identical.lines if line.get_marker() == "X"]
    assert list(anchors[0].get_xdata()) == [0, 10] and list(anchors[0].get_ydata()) == [100, 100]
    anchors = [line for line in cross_task.lines if line.get_marker() == "X"]
    assert list(anchors[0].get_xdata()) == [0]  # the end with itself only
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [
        "trained on natural images", "trained on IRIs", "FuLA", "TLM", "end / front model"
    ]  # fmt: skip
