"""DVC stage `train@<model-id>`: python -m stages.train <model-id>

Trains on a dataset or, for a biased model, on a shortcut setting (markers on its
training images; its metrics add the accuracy on the marked test split). Writes
models/<id>.pt, reports/metrics/<id>.json (deterministic), reports/timing/<id>.json
(wall time) and the DVCLive log reports/train/<id>/. Resumes from checkpoints/<id>.pt.
"""

import time
from pathlib import Path

import torch
from dvclive import Live

from stitchkit.common.compute import stage_device, stage_precision
from stitchkit.common.entry_point import run_stage
from stitchkit.common.errors import UserError
from stitchkit.common.io import write_json
from stitchkit.common.params_file import read_params
from stitchkit.common.sampling import check_count
from stitchkit.data.params import dataset_stage
from stitchkit.data.prepared import PreparedDataset, prepared_path
from stitchkit.data.shortcuts import evaluation_split
from stitchkit.models.architectures import ModelSpec
from stitchkit.models.checkpoints import load_training_state, save_model
from stitchkit.models.evaluation import accuracy
from stitchkit.models.params import training_job
from stitchkit.models.training import train_model

CHECKPOINT_DIR = Path("checkpoints")


def _shortcut_accuracy(model, data: PreparedDataset, batch_size: int, device) -> dict:
    """A biased model's accuracy on test images carrying their class's marker
    (``shortcut``) and the previous class's (``rolled``: low if it follows markers)."""
    if data.shortcut is None:
        return {}
    scores = {}
    for split in ("shortcut", "rolled"):
        images, labels = evaluation_split(data, split)
        scores[f"{split}_test_accuracy"] = accuracy(model, images, labels, batch_size, device)
    return scores


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.train <model-id>")
    (model_id,) = argv
    params = read_params()
    job = training_job(params, model_id)
    device = stage_device(params)  # torch's threads first: they decide the stats' last bits
    precision = stage_precision(params, device)
    data = PreparedDataset.load(prepared_path(job.dataset), dataset_stage(params, job.dataset))
    # before any output: a count beyond the data is refused (train_model checks it too)
    available = len(data.train_labels)
    check_count("train_samples", job.recipe.train_samples, available, "training images")
    mean, std = data.channel_stats()
    channels, size, _ = data.image_shape
    spec = ModelSpec(
        job.arch, data.num_classes, channels, job.width, mean, std, size, job.depth, job.patch
    )
    checkpoint = CHECKPOINT_DIR / f"{model_id}.pt"
    resume_from = load_training_state(checkpoint)
    started = time.perf_counter()
    with Live(f"reports/train/{model_id}", dvcyaml=False, save_dvc_exp=False) as live:

        def log_epoch(record: dict) -> None:
            for name, value in record.items():
                if name != "epoch":
                    live.log_metric(name, value)
            live.next_step()

        result = train_model(
            spec, job.recipe, job.seed, data, device, checkpoint, resume_from, log_epoch, precision
        )
    save_model(result.model, Path("models") / f"{model_id}.pt")
    write_json(
        Path("reports/metrics") / f"{model_id}.json",
        {
            "model_id": model_id,
            "dataset": job.dataset,
            "arch": job.arch,
            "seed": job.seed,
            "width": job.width,
            "epochs": job.recipe.epochs,
            **({"simclr_epochs": job.recipe.simclr.epochs} if job.recipe.simclr else {}),
            "train_samples": min(job.recipe.train_samples or 10**12, len(data.train_labels)),
            "test_accuracy": result.test_accuracy,
            **_shortcut_accuracy(result.model, data, job.recipe.eval_batch_size, device),
            "device": device.type,
            "precision": precision.name,
            "memory_format": precision.layout,
        },
    )
    write_json(
        Path("reports/timing") / f"{model_id}.json",
        {
            "seconds": round(time.perf_counter() - started, 2),
            "resumed_from_epoch": result.resumed_from_epoch,
            "device": str(torch.cuda.get_device_name() if device.type == "cuda" else "cpu"),
        },
    )
    checkpoint.unlink(missing_ok=True)
    print(f"{model_id}: test accuracy {result.test_accuracy:.4f}")


if __name__ == "__main__":
    run_stage(main)
