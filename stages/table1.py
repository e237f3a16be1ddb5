"""Table 1 of the paper, drawn by the `report` stage from every model under `models:`:
reports/table1.md and reports/table1.csv with dataset, architecture, whether
adversarially trained, test accuracy (full test split) and robust accuracy (the attacked
samples), each with its 95% interval and n, and the attack backend that produced it.
"""

import csv
import io
from pathlib import Path

from stages.reports import read_report
from stitchkit.common.io import atomic_path
from stitchkit.common.schema import validated
from stitchkit.measures.bootstrap import BootstrapSettings, Resampler
from stitchkit.models.architectures import ARCHITECTURES
from stitchkit.models.params import model_ids, training_job
from stitchkit.report.run_results import RunResults

COLUMNS = (
    "model_id",
    "dataset",
    "architecture",
    "adversarial_training",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "test_samples",
    "robust_accuracy",
    "robust_low",
    "robust_high",
    "robust_samples",
    "backend",
)


def rows(params: dict) -> list[dict]:
    """A row per model: accuracies in percent with their 95% intervals (bootstrap over
    the test images, from robustness@<model>'s per-sample outputs)."""
    settings = validated(BootstrapSettings, params.get("bootstrap") or {}, "bootstrap")
    results = RunResults(Path("reports"), Resampler(settings))
    out = []
    for model_id in model_ids(params):
        job = training_job(params, model_id)
        robust = read_report(
            Path("reports") / f"robustness/{model_id}.json", f"robustness@{model_id}"
        )
        samples = results.samples(f"robustness-{model_id}")
        scores = {}
        for split in ("clean", "robust"):
            labels = samples.split_labels(split)
            draw = results.resampler.mean(samples.anchor_correct(model_id, split), labels)
            scores[split] = results.interval(draw, len(labels))
        adversarial = job.recipe.adversarial
        clean, attacked = scores["clean"], scores["robust"]
        out.append(
            {
                "model_id": model_id,
                "dataset": job.dataset,
                "architecture": ARCHITECTURES[job.arch].label,
                "adversarial_training": f"alpha={adversarial.alpha:g}" if adversarial else "no",
                "accuracy": f"{100 * clean.value:.2f}",
                "accuracy_low": f"{100 * clean.low:.2f}",
                "accuracy_high": f"{100 * clean.high:.2f}",
                "test_samples": clean.n,
                "robust_accuracy": f"{100 * attacked.value:.2f}",
                "robust_low": f"{100 * attacked.low:.2f}",
                "robust_high": f"{100 * attacked.high:.2f}",
                "robust_samples": attacked.n,
                "backend": robust["backend"],
            }
        )
    return out


def markdown(table: list[dict]) -> str:
    header = [
        "Model ID",
        "Dataset",
        "Architecture",
        "Adv. training",
        "Accuracy (%) [95% interval], n",
        "Robust accuracy (%) [95% interval], n",
        "Attack backend",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table:
        cells = [row[c] for c in ("model_id", "dataset", "architecture", "adversarial_training")]
        cells += [
            f"{row['accuracy']} [{row['accuracy_low']}, {row['accuracy_high']}], "
            f"{row['test_samples']}",
            f"{row['robust_accuracy']} [{row['robust_low']}, {row['robust_high']}], "
            f"{row['robust_samples']}",
            row["backend"],
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_table1(params: dict) -> list[Path]:
    """Write reports/table1.csv and reports/table1.md atomically; the paths written."""
    table = rows(params)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    written = []
    for path, text in (
        (Path("reports/table1.csv"), buffer.getvalue()),
        (Path("reports/table1.md"), markdown(table)),
    ):
        with atomic_path(path) as tmp:
            tmp.write_text(text)
        written.append(path)
    return written
