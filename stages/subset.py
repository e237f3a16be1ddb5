"""DVC stage `subset@<series>`: python -m stages.subset <series>

Stitching on the first k classes for every k of the series (Fig. 9): writes
reports/subset/<series>.json (accuracy on all classes per k and mode; deterministic),
stitches/subset-<series>.pt (the T weights), reports/samples/subset-<series>.pt (per-sample
outputs, stitchkit/measures/samples.py), reports/timing/subset-<series>.json.
Resumes from checkpoints/subset-<series>/.
"""

import shutil
import time
from pathlib import Path

import torch

from stages.stitching_inputs import load_stitching_inputs
from stitchkit.common.compute import stage_device, stage_precision
from stitchkit.common.entry_point import run_stage
from stitchkit.common.errors import UserError
from stitchkit.common.io import save_torch, write_json
from stitchkit.common.params_file import read_params
from stitchkit.measures.samples import PanelSamples, panel_samples, samples_path
from stitchkit.stitching.evaluation import PanelEvaluator
from stitchkit.testbeds.class_subsets import fit_on_class_subsets
from stitchkit.testbeds.params import subset_job


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.subset <series>")
    (name,) = argv
    params = read_params()
    job = subset_job(params, name)
    front, end, data, specs = load_stitching_inputs(params, job)
    device = stage_device(params)
    precision = stage_precision(params, device)
    started = time.perf_counter()
    scorer = PanelEvaluator(front, end, data, job.recipe, device, precision=precision)
    end_scores = scorer.model_scores(end)
    end_accuracy = end_scores["accuracy"]
    labels = {"clean": scorer.evaluation_split()[1].to(torch.int16)}
    anchors = {"end": {"clean": {"pred": end_scores["per_sample"]["pred"]}}}
    checkpoints = Path("checkpoints") / f"subset-{name}"
    by_k = fit_on_class_subsets(
        front, end, data, specs, job.recipe, list(job.classes), device, checkpoints, precision
    )
    save_torch(
        {f"{k}/{r.spec.key}": r.layer_state() for k, results in by_k.items() for r in results},
        Path("stitches") / f"subset-{name}.pt",
    )
    stitches = {}
    for k, results in by_k.items():
        stitches |= panel_samples(results, labels, anchors, prefix=f"{k}/")
    PanelSamples(labels, anchors, stitches).save(samples_path(f"subset-{name}"))
    write_json(
        Path("reports/subset") / f"{name}.json",
        {
            "series": name,
            "front": job.front,
            "end": job.end,
            "data": job.data,
            "point": job.point,
            "end_accuracy": end_accuracy,
            "class_names": data.class_names,
            "bn_policy": job.recipe.bn,
            "device": device.type,
            "precision": precision.name,
            "memory_format": precision.layout,
            "results": [
                {"classes": k, **r.summary()} for k, results in by_k.items() for r in results
            ],
        },
    )
    write_json(
        Path("reports/timing") / f"subset-{name}.json",
        {"seconds": round(time.perf_counter() - started, 2), "stitches": len(specs) * len(by_k)},
    )
    shutil.rmtree(checkpoints, ignore_errors=True)
    for k, results in by_k.items():
        scores = ", ".join(f"{r.spec.mode} {r.test_accuracy:.4f}" for r in results)
        print(f"{name} k={k}: {scores}")


if __name__ == "__main__":
    run_stage(main)
