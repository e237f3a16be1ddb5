"""DVC stage `robustness@<model-id>`: python -m stages.robustness <model-id>

Scores models/<id>.pt under the `robust_eval:` attacks on its own test split and writes
reports/robustness/<id>.json: clean and robust accuracy on the attacked samples, their
number, epsilon and the backend that produced them (Table 1's robust accuracy), and
reports/samples/robustness-<id>.pt (per attacked sample: robust or not; per image of the
whole test split: the prediction), from which Table 1's intervals come.
"""

from dataclasses import asdict
from pathlib import Path

import torch

from stitchkit.common.compute import stage_device, stage_precision
from stitchkit.common.entry_point import run_stage
from stitchkit.common.errors import UserError
from stitchkit.common.io import write_json
from stitchkit.common.params_file import read_params
from stitchkit.data.augment import to_unit_float
from stitchkit.data.prepared import PreparedDataset, prepared_path
from stitchkit.measures.params import robust_evaluation
from stitchkit.measures.robustness import predictions, robust_accuracy
from stitchkit.measures.samples import PanelSamples, samples_path
from stitchkit.models.checkpoints import load_model
from stitchkit.models.params import training_job


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.robustness <model-id>")
    (model_id,) = argv
    params = read_params()
    job = training_job(params, model_id)
    settings = robust_evaluation(params, model_id)
    data = PreparedDataset.load(prepared_path(job.dataset), f"prepare@{job.dataset}")
    device = stage_device(params)
    # the stage's memory format (compute.channels_last); attacks always run in fp32
    model = stage_precision(params, device).prepare(
        load_model(Path("models") / f"{model_id}.pt", device)
    )
    scores = robust_accuracy(model, data.test_images, data.test_labels, settings, device)
    per_sample = scores.pop("per_sample")
    labels = {"robust": per_sample.pop("labels"), "clean": data.test_labels.to(torch.int16)}
    clean = predictions(model, to_unit_float(data.test_images), settings.batch_size, device)
    anchors = {
        model_id: {"robust": per_sample, "clean": {"pred": torch.from_numpy(clean).to(torch.int16)}}
    }
    PanelSamples(labels, anchors, {}).save(samples_path(f"robustness-{model_id}"))
    write_json(
        Path("reports/robustness") / f"{model_id}.json",
        {"model_id": model_id, **scores, "seed": settings.seed, "settings": asdict(settings)},
    )
    print(
        f"{model_id}: clean {scores['clean_accuracy']:.4f}, robust {scores['robust_accuracy']:.4f} "
        f"({scores['backend']}, {scores['samples']} samples)"
    )


if __name__ == "__main__":
    run_stage(main)
