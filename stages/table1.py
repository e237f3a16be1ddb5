"""Table 1 of the paper, drawn by the `report` stage from every model under `models:`:
reports/table1.md and reports/table1.csv with dataset, architecture, whether
adversarially trained, test accuracy (full test split), robust accuracy and the attack
backend that produced it.
"""

import csv
import io
from pathlib import Path

from stages.reports import read_report
from stitchkit.config import model_ids, training_job
from stitchkit.io import atomic_path
from stitchkit.models import ARCHITECTURES

COLUMNS = (
    "model_id",
    "dataset",
    "architecture",
    "adversarial_training",
    "accuracy",
    "robust_accuracy",
    "robust_samples",
    "backend",
)


def rows(params: dict) -> list[dict]:
    out = []
    for model_id in model_ids(params):
        job = training_job(params, model_id)
        reports = Path("reports")
        metrics = read_report(reports / f"metrics/{model_id}.json", f"train@{model_id}")
        robust = read_report(reports / f"robustness/{model_id}.json", f"robustness@{model_id}")
        adversarial = job.recipe.adversarial
        out.append(
            {
                "model_id": model_id,
                "dataset": job.dataset,
                "architecture": ARCHITECTURES[job.arch].label,
                "adversarial_training": f"alpha={adversarial.alpha:g}" if adversarial else "no",
                "accuracy": f"{100 * metrics['test_accuracy']:.2f}",
                "robust_accuracy": f"{100 * robust['robust_accuracy']:.2f}",
                "robust_samples": robust["samples"],
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
        "Accuracy (%)",
        "Robust accuracy (%)",
        "Attacked samples",
        "Attack backend",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[c]) for c in COLUMNS) + " |" for row in table]
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
