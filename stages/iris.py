"""DVC stage `iris@<set>`: python -m stages.iris <set>

Turns the training images of the set's data (with their shortcut markers, on a shortcut
setting) into IRIs of its front at its point (stitchkit.testbeds.iris) and writes
data/iris/<front>/<data>/<point>.pt, a prepared dataset whose training split is the IRIs
with their source images' labels and whose test split is the data's natural one;
reports/iris/<set>.json (hint residuals of the stored IRIs, cost, wall time). Resumes
from checkpoints/iris-<set>.pt; bitwise reproducible on CPU.
"""

import hashlib
import time
from dataclasses import asdict
from pathlib import Path

import torch

from stitchkit.common.compute import stage_device, stage_precision
from stitchkit.common.entry_point import run_stage
from stitchkit.common.errors import UserError
from stitchkit.common.io import save_torch, write_json
from stitchkit.common.params_file import read_params
from stitchkit.data.params import dataset_stage
from stitchkit.data.prepared import PreparedDataset, prepared_path
from stitchkit.models.checkpoints import load_model, load_training_state
from stitchkit.testbeds.iris import IriProgress, generate, iri_set_job, source_images


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.iris <iri set>")
    (name,) = argv
    params = read_params()
    job = iri_set_job(params, name)
    device = stage_device(params)
    data = PreparedDataset.load(prepared_path(job.data), dataset_stage(params, job.data))
    front_file = Path("models") / f"{job.front}.pt"
    # the stage's memory format (compute.channels_last); IRIs are optimised in fp32
    front = stage_precision(params, device).prepare(load_model(front_file, device))
    if tuple(front.input_shape) != tuple(data.image_shape):
        raise UserError(
            f"iri_sets.{name}: front {job.front} takes inputs of shape "
            f"{tuple(front.input_shape)}, {job.data}'s images are {tuple(data.image_shape)}; "
            "make IRIs from data of the front's input shape"
        )
    indices = job.settings.source_indices(len(data.train_labels))
    sources = source_images(data, indices)
    started = time.perf_counter()

    checkpoint = Path("checkpoints") / f"iris-{name}.pt"
    identity = {
        "settings": asdict(job.settings),
        "point": job.point,
        "samples": len(indices),
        "front": hashlib.sha256(front_file.read_bytes()).hexdigest(),
    }
    saved = load_training_state(checkpoint)
    progress = None
    if saved is not None and saved["identity"] == identity:
        progress = IriProgress(saved["images"], saved["residuals"])

    def save_progress(progress: IriProgress, batch: int) -> None:
        if batch % job.settings.checkpoint_every == 0:
            state = {"identity": identity, "images": progress.images}
            save_torch(state | {"residuals": progress.residuals}, checkpoint)

    progress = generate(front, job.point, sources, job.settings, device, progress, save_progress)
    residuals = torch.cat(progress.residuals).double()
    PreparedDataset(
        torch.cat(progress.images),
        data.train_labels[indices],
        data.test_images,
        data.test_labels,
        list(data.class_names),
        list(data.class_ids),
    ).save(job.path)
    summary = {
        "iri_set": name,
        "front": job.front,
        "point": job.point,
        "data": job.data,
        "images": len(indices),
        "settings": asdict(job.settings),
        # forward and backward passes of the front up to the point, per image
        "front_passes": job.settings.steps * len(indices),
        "hint_residual_mean": residuals.mean().item(),
        "hint_residual_median": residuals.median().item(),
        "hint_residual_max": residuals.max().item(),
        "device": device.type,
    }
    write_json(Path("reports/iris") / f"{name}.json", summary)
    write_json(
        Path("reports/timing") / f"iris-{name}.json",
        {"seconds": round(time.perf_counter() - started, 2), "images": len(indices)},
    )
    checkpoint.unlink(missing_ok=True)
    print(
        f"{name}: {len(indices)} IRIs, hint residual mean {summary['hint_residual_mean']:.4f} "
        f"(max {summary['hint_residual_max']:.4f})"
    )


if __name__ == "__main__":
    run_stage(main)
