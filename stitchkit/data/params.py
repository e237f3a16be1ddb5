"""params.yaml's data sections: which dataset a name prepares, shortcut settings
(`shortcuts:`), and the stage that writes a dataset."""

from stitchkit.common.errors import UserError
from stitchkit.common.params_file import section_entry
from stitchkit.data.shortcuts import ShortcutSetting


def shortcut_setting(params: dict, name: str) -> ShortcutSetting:
    """The validated shortcut setting ``shortcuts.<name>``; its source is a prepared dataset."""
    setting = section_entry(params, "shortcuts", name, ShortcutSetting)
    if setting.source in (params.get("shortcuts") or {}) or setting.source not in (
        params.get("datasets") or {}
    ):
        raise UserError(
            f"shortcuts.{name}.source: {setting.source!r} is not under `datasets:`; "
            "shortcuts are added to a clean prepared dataset"
        )
    return setting


def clean_source(params: dict, name: str) -> str:
    """The clean dataset under ``name``: a shortcut setting's source, or ``name`` itself."""
    shortcuts = params.get("shortcuts") or {}
    return shortcuts[name]["source"] if name in shortcuts else name


def dataset_stage(params: dict, name: str) -> str:
    """The DVC stage that writes data/prepared/<name>.pt."""
    return f"shortcut@{name}" if name in (params.get("shortcuts") or {}) else f"prepare@{name}"


def check_dataset(params: dict, where: str, name: str) -> None:
    datasets = set(params.get("datasets") or {}) | set(params.get("shortcuts") or {})
    if name not in datasets:
        raise UserError(f"{where}: {name!r} is under neither `datasets:` nor `shortcuts:`")
