"""DVC stage `robustness@<model-id>`: python -m stages.robustness <model-id>

Scores models/<id>.pt under the `robust_eval:` attacks on its own test split and writes
reports/robustness/<id>.json: clean and robust accuracy on the attacked samples, their
number, epsilon and the backend that produced them (Table 1's robust accuracy).
"""

from dataclasses import asdict
from pathlib import Path

from stitchkit.checkpoints import load_model
from stitchkit.cli import run_stage
from stitchkit.compute import stage_device
from stitchkit.config import load_params, robust_evaluation, training_job
from stitchkit.errors import UserError
from stitchkit.io import write_json
from stitchkit.prepared import PreparedDataset, prepared_path
from stitchkit.robustness import robust_accuracy


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.robustness <model-id>")
    (model_id,) = argv
    params = load_params()
    job = training_job(params, model_id)
    settings = robust_evaluation(params)
    data = PreparedDataset.load(prepared_path(job.dataset), f"prepare@{job.dataset}")
    device = stage_device(params)
    model = load_model(Path("models") / f"{model_id}.pt", device)
    scores = robust_accuracy(model, data.test_images, data.test_labels, settings, device)
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
