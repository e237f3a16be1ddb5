"""Per-sample outputs round-trip through their file, and read back as the scores."""

import torch

from stitchkit.measures.samples import PanelSamples


def test_per_sample_outputs_round_trip(tmp_path):
    labels = {"clean": torch.tensor([0, 1, 2, 1], dtype=torch.int16)}
    labels["robust"] = torch.tensor([1, 2], dtype=torch.int16)
    stitches = {
        "fula/5/5": {
            "clean": {
                "pred": torch.tensor([0, 1, 0, 1], dtype=torch.int16),
                "agreement": torch.tensor([1.0, 0.5, 0.25, 1.0]),
            },
            "robust": {"correct": torch.tensor([True, False])},
        }
    }
    anchors = {"end": {"clean": {"pred": torch.tensor([0, 1, 2, 0], dtype=torch.int16)}}}
    path = tmp_path / "samples" / "panel.pt"
    PanelSamples(labels, anchors, stitches).save(path)
    back = PanelSamples.load(path, "stitch@panel")
    assert back.correct("fula/5/5").tolist() == [1.0, 1.0, 0.0, 1.0]
    assert back.correct("fula/5/5", "robust").tolist() == [1.0, 0.0]
    assert back.agreement("fula/5/5").tolist() == [1.0, 0.5, 0.25, 1.0]
    assert back.anchor_correct("end").tolist() == [1.0, 1.0, 1.0, 0.0]
    first = path.read_bytes()
    PanelSamples(labels, anchors, stitches).save(path)
    assert path.read_bytes() == first  # byte-reproducible
