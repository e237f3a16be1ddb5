"""DVC stage `shortcut@<setting>`: python -m stages.shortcut <setting>

Reads the clean data/prepared/<source>.pt and writes data/prepared/<setting>.pt: the
clean images with the shortcut's definition (markers, class locations, which training
images carry one), which stitching stamps into every batch after its augmentation and
into the shortcut test splits.
"""

from stitchkit.common.entry_point import run_stage
from stitchkit.common.errors import UserError
from stitchkit.common.params_file import read_params
from stitchkit.data.params import shortcut_setting
from stitchkit.data.prepared import PreparedDataset, prepared_path
from stitchkit.data.shortcuts import make_shortcut_dataset


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise UserError("usage: python -m stages.shortcut <setting>")
    (name,) = argv
    setting = shortcut_setting(read_params(), name)
    clean = PreparedDataset.load(prepared_path(setting.source), f"prepare@{setting.source}")
    data = make_shortcut_dataset(clean, setting)
    data.save(prepared_path(name))
    marked = int(data.shortcut["train_mask"].sum())
    print(
        f"{name}: {setting.kind} shortcut ({setting.pattern or 'noise'}, {setting.size}x"
        f"{setting.size}) in {marked}/{len(data.train_labels)} training images of {setting.source}"
    )


if __name__ == "__main__":
    run_stage(main)
