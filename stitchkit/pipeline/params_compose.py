"""params.yaml composed from conf/ with Hydra overrides, exactly as `dvc exp run -S` does
(DVC's own composer, with the repository's `[hydra]` settings). A section that dvc.yaml
loops over and the overrides removed (``-S '~similarities'``) is kept, empty: its
stages are dropped and DVC can still read the pipeline."""

import os
from pathlib import Path

import yaml

from stitchkit.common.errors import UserError
from stitchkit.common.io import atomic_path


def compose_params(overrides: list[str], root: str = ".") -> None:
    from dvc.repo import Repo
    from dvc.utils.hydra import compose_and_dump

    with Repo(root) as repo:
        hydra = repo.config.get("hydra", {})
        if not hydra.get("enabled", False):
            raise UserError("-S needs Hydra; enable it with `dvc config hydra.enabled true`")
        config_dir = os.path.join(repo.root_dir, hydra.get("config_dir", "conf"))
        plugins = os.path.join(repo.root_dir, hydra.get("plugins_path", ""))
        try:
            compose_and_dump(
                os.path.join(repo.root_dir, "params.yaml"),
                config_dir,
                None,
                hydra.get("config_name", "config"),
                plugins,
                overrides,
            )
        except Exception as exc:  # Hydra's errors name the bad override
            raise UserError(f"cannot compose params.yaml with {overrides}: {exc}") from None
        _keep_loop_sections(Path(repo.root_dir))


def _keep_loop_sections(root: Path) -> None:
    from stitchkit.pipeline.dvc_stages import loop_sections

    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text()) or {}
    missing = [section for section in loop_sections(root) if section not in params]
    if missing:
        with atomic_path(path) as tmp:
            tmp.write_text(
                yaml.safe_dump(params | {section: {} for section in missing}, sort_keys=False)
            )
