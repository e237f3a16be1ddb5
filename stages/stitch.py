"""DVC stage `stitch@<panel>`: python -m stages.stitch <panel>

Fits every (mode, point) stitch of the panel (of `panels:`, or of `iri_panels:` on the
front's IRIs, DVC stage `iri-stitch@<panel>`) on one shared batch stream and writes
reports/stitch/<panel>.json (accuracies, losses, DM residuals; deterministic; on a
shortcut dataset also every accuracy on the shortcut and rolled-shortcut test splits; on
an adversarial panel also every robust accuracy), stitches/<panel>.pt (the T weights),
reports/samples/<panel>.pt (every stitch's per-sample outputs, stitchkit/measures/samples.py) and
reports/timing/stitch-<panel>.json (wall time). Resumes from checkpoints/stitch-<panel>.pt.
"""

import time
from dataclasses import asdict
from pathlib import Path

import torch

from stages.reports import read_report
from stages.stitching_inputs import load_stitching_inputs
from stitchkit.common.compute import stage_device, stage_precision
from stitchkit.common.entry_point import run_stage
from stitchkit.common.errors import UserError
from stitchkit.common.io import save_torch, write_json
from stitchkit.common.params_file import read_params
from stitchkit.data.params import clean_source
from stitchkit.data.prepared import PreparedDataset
from stitchkit.measures.params import stitch_robust_evaluation
from stitchkit.measures.samples import PanelSamples, panel_samples, samples_path
from stitchkit.stitching.params import panel_job
from stitchkit.stitching.trainer import PanelTrainer
from stitchkit.testbeds.iris import iri_set_job


def _robust_report(model_id: str) -> dict:
    """robustness@<model>'s result: the model's robust accuracy on its own clean test
    split, under its own (Table 1's) settings."""
    return read_report(Path("reports/robustness") / f"{model_id}.json", f"robustness@{model_id}")


def _attacked_alike(model_id: str, settings) -> bool:
    """Whether robustness@<model> used the stitches' robust ``settings`` (the same attack
    on the same images of the same test split: no need to attack the model again)."""
    return _robust_report(model_id)["settings"] == asdict(settings)


def _iri_sets(params: dict, job) -> dict | None:
    """An IRI panel's training data: front point -> its IRI set (iris@<set>'s output)."""
    if job.iris is None:
        return None
    return {
        k: PreparedDataset.load(iri_set_job(params, name).path, f"iris@{name}")
        for k, name in job.iris.items()
    }


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.stitch <panel>")
    (name,) = argv
    params = read_params()
    job = panel_job(params, name)
    front, end, data, specs = load_stitching_inputs(params, job)
    robust = stitch_robust_evaluation(params) if job.adversarial else None
    device = stage_device(params)
    precision = stage_precision(params, device)
    started = time.perf_counter()
    trainer = PanelTrainer(
        front,
        end,
        data,
        specs,
        job.recipe,
        device,
        job.adversarial,
        robust,
        precision,
        _iri_sets(params, job),
    )
    stamped = trainer.scores.shortcut is not None
    splits = ("clean", "shortcut", "rolled") if stamped else ("clean",)
    end_scores = {split: trainer.scores.model_scores(end, split) for split in splits}
    end_accuracy = end_scores["clean"]["accuracy"]
    end_shortcut_accuracy = end_scores["shortcut"]["accuracy"] if stamped else None
    end_rolled_accuracy = end_scores["rolled"]["accuracy"] if stamped else None
    labels = {split: trainer.scores.evaluation_split(split)[1].to(torch.int16) for split in splits}
    anchors = {"end": {split: {"pred": s["per_sample"]["pred"]} for split, s in end_scores.items()}}
    clean = clean_source(params, job.data)
    front_dataset = params["models"][job.front]["dataset"]
    front_agreement = None  # the front's agreement with the end, on the same task only
    front_shortcut_agreement = None  # and on the marked test images of shortcut data
    if clean_source(params, front_dataset) == clean:  # on the panel's test images too
        front_scores = trainer.scores.model_scores(front)
        anchors["front"] = {"clean": {"pred": front_scores.pop("per_sample")["pred"]}}
        front_accuracy = front_scores.pop("accuracy")
        front_agreement = front_scores
        if stamped:
            marked = trainer.scores.model_scores(front, "shortcut")
            front_shortcut_agreement = {
                k: v for k, v in marked.items() if k not in ("accuracy", "per_sample")
            }
    else:  # a front of another task is scored on its own test split
        front_accuracy = read_report(
            Path("reports/metrics") / f"{job.front}.json", f"train@{job.front}"
        )["test_accuracy"]
    robust_fields = {}
    if robust:
        front_robust = None if front_agreement is None else trainer.scores.robust_scores(front, end)
        # front and end beside the stitches: under the stitches' attack on the panel's
        # images, taken from robustness@<model> where it did the same; a front of another
        # task: Table 1's, on its own test split
        if params["models"][job.end]["dataset"] == clean and _attacked_alike(job.end, robust):
            end_robust_accuracy = _robust_report(job.end)["robust_accuracy"]
        else:
            end_robust = trainer.scores.robust_scores(end)
            end_robust_accuracy = end_robust["robust_accuracy"]
            anchors["end"]["robust"] = {"correct": end_robust["per_sample"]["correct"]}
        if front_robust is None or _attacked_alike(job.front, robust):
            front_robust_accuracy = _robust_report(job.front)["robust_accuracy"]
        else:
            front_robust_accuracy = front_robust["robust_accuracy"]
        robust_fields = {
            "adversarial": asdict(job.adversarial),
            "robust_eval": asdict(robust),
            "end_robust_accuracy": end_robust_accuracy,
            "front_robust_accuracy": front_robust_accuracy,
            # the front's agreement with the end on the front's own attacked test images
            # (the x = front anchor of v2's adversarial figure; same task only)
            "front_robust_agreement": None
            if front_agreement is None
            else front_robust["agreement"],
        }
    checkpoint = Path("checkpoints") / f"stitch-{name}.pt"
    results = trainer.fit(checkpoint_path=checkpoint)
    save_torch(
        {r.spec.key: r.layer_state() for r in results},
        Path("stitches") / f"{name}.pt",
    )
    stitches = panel_samples(results, labels, anchors)
    if robust and front_robust is not None:
        anchors["front"]["robust"] = {"correct": front_robust["per_sample"]["correct"]}
    PanelSamples(labels, anchors, stitches).save(samples_path(name))
    write_json(
        Path("reports/stitch") / f"{name}.json",
        {
            "panel": name,
            "front": job.front,
            "end": job.end,
            "data": job.data,
            "train_on": "natural" if job.iris is None else "iris",
            # the IRIs per front point, by path: a panel's stage depends on its front's
            # IRI folder, not on the set names (adding a set reruns no panel)
            "iri_data": None
            if job.iris is None
            else {k: str(iri_set_job(params, n).path) for k, n in job.iris.items()},
            "front_points": front.num_points,
            "end_points": end.num_points,
            "front_accuracy": front_accuracy,
            "front_accuracy_on": front_dataset,
            "front_agreement": front_agreement,
            "front_shortcut_agreement": front_shortcut_agreement,
            "end_accuracy": end_accuracy,
            "end_shortcut_accuracy": end_shortcut_accuracy,
            "end_rolled_accuracy": end_rolled_accuracy,
            "hint_norm": job.recipe.hint_norm,
            "bn_policy": job.recipe.bn,
            "device": device.type,
            "precision": precision.name,
            "memory_format": precision.layout,
            **robust_fields,
            "results": [r.summary() for r in results],
        },
    )
    write_json(
        Path("reports/timing") / f"stitch-{name}.json",
        {"seconds": round(time.perf_counter() - started, 2), "stitches": len(specs)},
    )
    checkpoint.unlink(missing_ok=True)
    for r in results:
        shortcut = ""
        if r.shortcut_accuracy is not None:
            shortcut = f", shortcut {r.shortcut_accuracy:.4f}, rolled {r.rolled_accuracy:.4f}"
        robust_note = "" if r.robust_accuracy is None else f", robust {r.robust_accuracy:.4f}"
        print(f"{name} {r.spec.key}: accuracy {r.test_accuracy:.4f}{shortcut}{robust_note}")


if __name__ == "__main__":
    run_stage(main)
