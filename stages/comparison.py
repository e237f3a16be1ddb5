"""DVC stage `comparison@<name>`: python -m stages.comparison <name>

`stitchkit compare` in the pipeline (params.yaml `comparisons:`): the front and end
models (trained files of `models:` or SPECs) on a prepared dataset. Writes
reports/comparisons/<name>/ (the table as comparison.csv and .parquet, index.html),
the heatmaps under reports/comparison-heatmaps/<name>/ (DVC plots) and
reports/comparisons/<name>.json, the table as a DVC metric (method -> metric ->
"front point -> end point" -> value).
"""

from pathlib import Path

from stitchkit.common.compute import stage_device
from stitchkit.common.entry_point import run_stage
from stitchkit.common.errors import UserError
from stitchkit.common.io import write_json
from stitchkit.common.params_file import read_params
from stitchkit.compare.comparison import compare
from stitchkit.compare.outputs import write_outputs
from stitchkit.compare.params import comparison_job, is_spec
from stitchkit.data.params import dataset_stage
from stitchkit.data.prepared import PreparedDataset, prepared_path
from stitchkit.models.checkpoints import load_model

ACTIVATIONS = Path(".dvc/tmp/activations")  # the activation cache: content-addressed


def metrics(table) -> dict:
    """The table as nested values: method -> metric -> "front -> end" (or "model") -> value."""
    tree: dict = {}
    for row in table.itertuples():
        pair = f"{row.front_point} -> {row.end_point}" if row.front_point else "model"
        tree.setdefault(row.method, {}).setdefault(row.metric, {})[pair] = row.value
    return tree


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.comparison <name>")
    (name,) = argv
    params = read_params()
    job = comparison_job(params, name)
    device = stage_device(params)
    models = {
        side: spec if is_spec(spec) else load_model(Path("models") / f"{spec}.pt", device)
        for side, spec in (("front", job.front), ("end", job.end))
    }
    data = PreparedDataset.load(prepared_path(job.data), dataset_stage(params, job.data))
    out = Path("reports/comparisons") / name
    table = compare(
        models["front"],
        models["end"],
        data,
        points=job.points,
        end_points=job.end_points,
        modes=job.modes,
        measures=job.measures,
        recipe=job.recipe_for(data),
        samples=job.samples,
        device=device,
        cache=ACTIVATIONS,
        checkpoint=Path("checkpoints") / f"comparison-{name}.pt",
    )
    settings = {"front": job.front, "end": job.end, "data": job.data}
    write_outputs(out, table, settings, Path("reports/comparison-heatmaps") / name)
    write_json(out.with_suffix(".json"), metrics(table))
    print(f"wrote {out}/ and {out}.json")


if __name__ == "__main__":
    run_stage(main)
