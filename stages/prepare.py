"""DVC stage `prepare@<dataset>`: python -m stages.prepare <dataset>

Writes the canonical file data/prepared/<dataset>.pt.
"""

from stitchkit.common.entry_point import run_stage
from stitchkit.common.errors import UserError
from stitchkit.common.params_file import read_params
from stitchkit.data.datasets import prepare
from stitchkit.data.prepared import prepared_path


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.prepare <dataset>")
    (name,) = argv
    datasets = read_params().get("datasets") or {}
    if name not in datasets:
        raise UserError(f"dataset {name!r} is not under `datasets:` in params.yaml")
    data = prepare(name, datasets[name] or {})
    data.save(prepared_path(name))
    print(
        f"{name}: {len(data.train_labels)} train / {len(data.test_labels)} test images "
        f"of shape {data.image_shape}, {data.num_classes} classes"
    )


if __name__ == "__main__":
    run_stage(main)
