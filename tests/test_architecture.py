"""The shape of the code: subpackages import one way (LAYERS), and every DVC stage
depends on the code it runs, so that no change to it can leave stale results, while
report code stays out of the training stages' deps."""

import ast
from pathlib import Path

import pytest
import yaml

from conftest import REPO

# lowest first: a subpackage may import those before it, never those after
LAYERS = (
    "common", "data", "models", "measures", "stitching", "testbeds", "report", "compare",
    "pipeline",
)  # fmt: skip


def module_file(name: str) -> Path | None:
    path = REPO / (name.replace(".", "/") + ".py")
    if path.exists():
        return path
    package = REPO / name.replace(".", "/") / "__init__.py"
    return package if package.exists() else None


def imported(path: Path) -> set[str]:
    """The stitchkit and stages modules ``path`` imports, anywhere in its code."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return {n for n in names if n.split(".")[0] in ("stitchkit", "stages") and module_file(n)}


def closure(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += imported(module_file(name))
    return seen


def code_path(module: str) -> str:
    """The dvc.yaml dep that covers ``module``: its file under stages/, else its
    stitchkit subpackage folder."""
    parts = module.split(".")
    if parts[0] == "stages":
        return f"{'/'.join(parts)}.py"
    return (
        "/".join(parts[:2])
        if len(parts) > 2 or module_file(module).name == "__init__.py"
        else (f"{'/'.join(parts)}.py")
    )


def stage_modules() -> dict[str, tuple[str, list[str]]]:
    """Each dvc.yaml stage's `python -m` module and its deps."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    out = {}
    for name, stage in stages.items():
        body = stage.get("do", stage)
        module = body["cmd"].split()[2]
        out[name] = (module, body["deps"])
    return out


@pytest.mark.parametrize("stage", sorted(stage_modules()))
def test_every_stage_depends_on_all_the_code_it_imports(stage):
    module, deps = stage_modules()[stage]
    needed = {code_path(m) for m in closure(module) if m not in ("stitchkit", "stages")}
    missing = sorted(needed - set(deps))
    assert not missing, f"dvc.yaml stage {stage} imports code outside its deps: {missing}"


def test_report_and_stitching_code_do_not_rerun_training():
    for stage in ("prepare", "shortcut", "train"):
        module, deps = stage_modules()[stage]
        code = {code_path(m) for m in closure(module) if m not in ("stitchkit", "stages")}
        assert not code & {"stitchkit/report", "stitchkit/stitching", "stitchkit/pipeline"}, stage
        assert not set(deps) & {"stitchkit/report", "stitchkit/stitching"}, stage


def test_subpackages_import_one_way():
    for package in LAYERS:
        allowed = {f"stitchkit.{p}" for p in LAYERS[: LAYERS.index(package) + 1]}
        for path in sorted((REPO / "stitchkit" / package).rglob("*.py")):
            for name in imported(path):
                if name.startswith("stitchkit.") and name.count(".") >= 1:
                    top = ".".join(name.split(".")[:2])
                    assert top in allowed, f"{path.relative_to(REPO)} imports {name}"
