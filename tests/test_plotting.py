"""Figure layout: each panel of a grid keeps the axis of its own end model."""

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
