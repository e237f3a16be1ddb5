"""`dvc repro`'s work on one stage, split so that its command can run on another process.

DVC reproduces a stage in this order: skip it if nothing it depends on changed; remove
its outputs; restore them from the run cache if this exact stage ran before; otherwise
record its dependencies and run its command; then hash its outputs into the cache and
write its entry in dvc.lock. `stitchkit repro` does the same steps with DVC's own
functions, in the same order, but runs the command on a Ray worker, and may write the
dvc.lock entries of several stages at once (DVC parses and rewrites the whole file for
each write, seconds for a suite's lock). Only the process that calls these functions
reads or writes the repository's DVC state.
"""

import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from dvc.dvcfile import PROJECT_FILE
from dvc.repo import Repo, lock_repo
from dvc.repo.reproduce import collect_stages, get_active_graph, plan_repro
from dvc.stage import Stage
from dvc.stage.cache import RunCacheNotFoundError
from dvc.stage.run import get_executable, prepare_kwargs

from stitchkit.common.errors import UserError


@dataclass(frozen=True)
class StageCommand:
    """What a worker runs for a stage: shell command lines, in order, in ``cwd``."""

    name: str
    argv_list: tuple[tuple[str, ...], ...]
    cwd: str
    env: dict[str, str]


@dataclass(frozen=True)
class Plan:
    """The stages `dvc repro <targets>` would visit, and each one's upstream among them."""

    stages: tuple[Stage, ...]
    upstream: dict[Stage, tuple[Stage, ...]]


def loop_sections(root: Path) -> list[str]:
    """The params.yaml sections that dvc.yaml loops over (``foreach: ${SECTION}``)."""
    text = (root / PROJECT_FILE).read_text()
    return list(dict.fromkeys(re.findall(r"foreach: \$\{(\w+)\}", text)))


def check_loop_sections(root: Path, params: dict) -> None:
    """Every section that dvc.yaml loops over is a mapping, empty for none: without it
    DVC cannot read the pipeline at all."""
    for section in loop_sections(root):
        if not isinstance(params.get(section), dict):
            raise UserError(
                f"params.yaml has no `{section}:` mapping, which dvc.yaml loops over; keep "
                f"the section, empty for none (`{section}: {{}}`)"
            )


def plan(repo: Repo, targets: list[str]) -> Plan:
    """The stages of ``targets`` (default: all of dvc.yaml) and everything they depend
    on, in an order that `dvc repro` could run them in."""
    graph = get_active_graph(repo.index.graph)
    stages = plan_repro(graph, collect_stages(repo, targets or [PROJECT_FILE]))
    included = set(stages)
    upstream = {s: tuple(u for u in graph.successors(s) if u in included) for s in stages}
    return Plan(tuple(stages), upstream)


UP_TO_DATE, RESTORED, RUN = "up to date", "restored", "run"


def prepare(repo: Repo, stage: Stage, upstream: tuple[Stage, ...], force: bool) -> str:
    """Get ``stage`` ready to run, once its upstream stages are committed: UP_TO_DATE when
    nothing changed; RESTORED when the run cache restored its outputs (committed, its
    dvc.lock entry still to write); RUN when its command must run."""
    with lock_repo(repo):
        if not force and not stage.changed(upstream=list(upstream)):
            return UP_TO_DATE
        stage.remove_outs(ignore_remove=False, force=False)
        if not force:
            try:
                repo.stage_cache.restore(stage)
            except RunCacheNotFoundError:
                stage.save_deps()
            else:
                _commit(stage)
                return RESTORED
    return RUN


def command(stage: Stage) -> StageCommand:
    """The stage's command lines as DVC runs them: in the user's shell, from the stage's
    directory, with DVC_ROOT and DVC_STAGE set, and with the folder of the interpreter
    running stitchkit first on PATH, so that a stage's `python` is the one stitchkit was
    installed in (`.venv/bin/stitchkit repro` works without activating the venv)."""
    kwargs = prepare_kwargs(stage)
    lines = stage.cmd if isinstance(stage.cmd, list) else [stage.cmd]
    shell = get_executable()
    argv_list = tuple((shell, "-c", line) for line in lines)
    env = dict(kwargs["env"])
    env["PATH"] = os.pathsep.join(filter(None, (str(Path(sys.executable).parent), env.get("PATH"))))
    return StageCommand(stage.addressing, argv_list, str(kwargs["cwd"]), env)


def commit(repo: Repo, stage: Stage) -> None:
    """After the command succeeded: hash and cache the outputs and save the run cache
    (what `dvc repro` does after a command, but for writing dvc.lock: write_lock)."""
    with lock_repo(repo):
        _commit(stage)


def _commit(stage: Stage) -> None:
    uncached = any(not out.use_cache for out in stage.outs if not (out.is_metric or out.is_plot))
    stage.save(run_cache=not uncached)
    stage.commit()


def write_lock(repo: Repo, stages: list[Stage]) -> None:
    """Write the dvc.lock entries of committed ``stages``: one rewrite per lock file."""
    by_file = defaultdict(list)
    for stage in stages:
        by_file[stage.dvcfile.path].append(stage)
    with lock_repo(repo):
        for group in by_file.values():
            group[0].dvcfile.dump_stages(group, update_pipeline=False)


def log_dir(repo: Repo) -> Path:
    """Where each stage's output goes (DVC's own, git-ignored, tmp folder)."""
    return Path(repo.tmp_dir) / "stitchkit-repro"
