"""DVC stage `similarity@<figure>`: python -m stages.similarity <figure>

Fig. 6 of the paper. For each configuration's adversarial panel and each stitching
point: PGD examples (the panel's attack settings) are crafted on the DM-initialised
stitched model for `samples` test images; linear CKA, plain and debiased, compares the
end model's penultimate features with the stitched model's on them. Beside it, the
panel's FuLA stitch with all weight on the last hint gives the functional similarity.
Writes reports/similarity/<figure>.json; the `report` stage draws it.
"""

from pathlib import Path

import torch
from tqdm import tqdm

from stages.reports import panel_report
from stitchkit.common.compute import stage_device
from stitchkit.common.entry_point import run_stage
from stitchkit.common.errors import UserError
from stitchkit.common.io import load_torch, write_json
from stitchkit.common.params_file import read_params
from stitchkit.common.sampling import check_count, seeded_subset
from stitchkit.data.augment import to_unit_float
from stitchkit.data.params import dataset_stage
from stitchkit.data.prepared import PreparedDataset, prepared_path
from stitchkit.data.shortcuts import evaluation_split
from stitchkit.measures.cka import linear_cka
from stitchkit.models.checkpoints import load_model
from stitchkit.stitching.layers import StitchLayer, stitch_layer
from stitchkit.stitching.stitched_model import StitchedModel
from stitchkit.testbeds.params import similarity_job


def _panel_outputs(name: str) -> tuple[dict, dict]:
    report = panel_report(name)
    layers = load_torch(Path("stitches") / f"{name}.pt", f"rerun `dvc repro -f stitch@{name}`")
    return report, layers


def _layer(state: dict, front_shape, end_shape, device) -> StitchLayer:
    layer = stitch_layer(front_shape, end_shape)
    layer.load_state_dict(state)
    return layer.to(device).eval()


def configuration_rows(params, figure, job, device, bar) -> list[dict]:
    """Per stitching point of panel ``job`` of ``figure``: CKA on adversarial examples and
    FuLA scores."""
    samples, fula_mode = figure.samples, figure.mode
    report, layers = _panel_outputs(job.name)
    data = PreparedDataset.load(prepared_path(job.data), dataset_stage(params, job.data))
    front = load_model(Path("models") / f"{job.front}.pt", device)
    end = load_model(Path("models") / f"{job.end}.pt", device)
    images, labels = evaluation_split(data)
    check_count(f"similarities.{figure.name}.samples", samples, len(labels), "test images")
    keep = seeded_subset(len(labels), samples, 0)
    x, y = to_unit_float(images[keep]).to(device), labels[keep].to(device)
    fula = {r["front_point"]: r for r in report["results"] if r["mode"] == fula_mode}
    a, rows = job.adversarial, []
    for point, _ in job.pairs:
        with torch.no_grad():
            shapes = [model.forward_to(x[:1], point).shape[1:] for model in (front, end)]
        layer = _layer(layers[f"dm/{point}/{point}"], *shapes, device)
        stitched = StitchedModel(front, layer, end, point, point).eval()
        x_adv = a.attack(stitched, x, y, torch.Generator().manual_seed(0))
        with torch.no_grad():
            ours, theirs = stitched.features(x_adv).cpu(), end.features(x_adv).cpu()
        rows.append(
            {
                "point": point,
                "cka": linear_cka(ours, theirs),
                "cka_debiased": linear_cka(ours, theirs, debiased=True),
                "fula_accuracy": fula[point]["test_accuracy"],
                "fula_robust_accuracy": fula[point]["robust_accuracy"],
            }
        )
        bar.update()
    return rows


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.similarity <figure>")
    (name,) = argv
    params = read_params()
    job = similarity_job(params, name)
    device = stage_device(params)
    total = sum(len(panel.pairs) for panel in job.panels.values())
    with tqdm(total=total, desc="similarity", unit="point") as bar:
        configs = {
            label: configuration_rows(params, job, panel, device, bar)
            for label, panel in job.panels.items()
        }
    write_json(
        Path("reports/similarity") / f"{name}.json",
        {
            "figure": name,
            "samples": job.samples,
            "fula_mode": job.mode,
            "panels": {label: panel.name for label, panel in job.panels.items()},
            "configurations": configs,
        },
    )
    print(f"wrote reports/similarity/{name}.json")


if __name__ == "__main__":
    run_stage(main)
