"""params.yaml composed from conf/ with Hydra overrides, exactly as `dvc exp run -S` does
(DVC's own composer, with the repository's `[hydra]` settings)."""

import os

from stitchkit.common.errors import UserError


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
