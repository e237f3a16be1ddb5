"""DVC stage `cka@<figure>`: python -m stages.cka <figure>

v2's CKA figure (the authors' evaluate_cka.py): per column (natural panels and their IRI
twins, one pair per front) and stitching point k, debiased linear CKA between the
front's and the end's activations at k, on `samples` natural test images, and on the
first `samples` IRIs of the front at k; a column's value is the mean over its fronts.
Writes reports/cka/<figure>.json; the `report` stage draws it beside the FuLA
agreement of the column's panels.
"""

from pathlib import Path

import torch
from tqdm import tqdm

from stitchkit.common.compute import stage_device
from stitchkit.common.entry_point import run_stage
from stitchkit.common.errors import UserError
from stitchkit.common.io import write_json
from stitchkit.common.params_file import read_params
from stitchkit.common.sampling import check_count, seeded_subset
from stitchkit.data.augment import to_unit_float
from stitchkit.data.params import dataset_stage
from stitchkit.data.prepared import PreparedDataset, prepared_path
from stitchkit.data.shortcuts import evaluation_split, shortcut_of
from stitchkit.measures.cka import linear_cka
from stitchkit.models.checkpoints import load_model
from stitchkit.models.stitchable import Stitchable
from stitchkit.testbeds.iris import iri_set_job
from stitchkit.testbeds.params import cka_figure_job

BATCH = 250


def point_cka(front: Stitchable, end: Stitchable, k: int, images: torch.Tensor, device) -> float:
    """Debiased linear CKA of f_k and g_k on uint8 ``images``."""
    fronts, ends = [], []
    with torch.no_grad():
        for start in range(0, len(images), BATCH):
            x = to_unit_float(images[start : start + BATCH].to(device))
            fronts.append(front.forward_to(x, k).cpu())
            ends.append(end.forward_to(x, k).cpu())
    return linear_cka(torch.cat(fronts), torch.cat(ends), debiased=True)


def test_sample(data: PreparedDataset, samples: int, key: str) -> torch.Tensor:
    """``samples`` (params key ``key``) test images, drawn with seed 0, in test-split
    order; on shortcut data with their class's marker (the authors' cross-bias test set)."""
    images, _ = evaluation_split(data, "clean" if shortcut_of(data) is None else "shortcut")
    check_count(key, samples, len(images), "test images")
    return images[seeded_subset(len(images), samples, 0)]


def replicate_rows(params: dict, figure, natural, iris, device, bar) -> dict:
    """CKA per point of one (natural panel, IRI panel) pair of ``figure``, on natural
    test images and on the IRIs."""
    samples, key = figure.samples, f"cka_figures.{figure.name}.samples"
    data = PreparedDataset.load(prepared_path(natural.data), dataset_stage(params, natural.data))
    front = load_model(Path("models") / f"{natural.front}.pt", device).eval()
    end = load_model(Path("models") / f"{natural.end}.pt", device).eval()
    natural_images = test_sample(data, samples, key)
    points = [i for i, _ in natural.pairs]
    rows = {"natural_panel": natural.name, "iri_panel": iris.name, "points": points}
    rows |= {"natural": [], "iris": []}
    for k in points:
        iri_set = iri_set_job(params, iris.iris[k])
        iri_images = PreparedDataset.load(iri_set.path, f"iris@{iri_set.name}").train_images
        check_count(key, samples, len(iri_images), f"IRIs in {iri_set.name}")
        rows["natural"].append(point_cka(front, end, k, natural_images, device))
        rows["iris"].append(point_cka(front, end, k, iri_images[:samples], device))
        bar.update()
    return rows


def column_rows(params: dict, figure, pairs, device, bar) -> dict:
    """A column's CKA per point: the mean over its replicate pairs, and each pair's."""
    replicates = [replicate_rows(params, figure, *pair, device, bar) for pair in pairs]
    mean = {}
    for data in ("natural", "iris"):
        per_point = zip(*(r[data] for r in replicates), strict=True)
        mean[data] = [sum(values) / len(values) for values in per_point]
    return {"points": replicates[0]["points"], **mean, "replicates": replicates}


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.cka <figure>")
    (name,) = argv
    params = read_params()
    job = cka_figure_job(params, name)
    device = stage_device(params)
    pairs = [pair for column in job.columns.values() for pair in column]
    with tqdm(
        total=sum(len(natural.pairs) for natural, _ in pairs), desc="CKA", unit="point"
    ) as bar:
        columns = {
            label: column_rows(params, job, column, device, bar)
            for label, column in job.columns.items()
        }
    write_json(
        Path("reports/cka") / f"{name}.json",
        {"figure": name, "samples": job.samples, "mode": job.mode, "columns": columns},
    )
    print(f"wrote reports/cka/{name}.json")


if __name__ == "__main__":
    run_stage(main)
