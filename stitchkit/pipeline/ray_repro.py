"""`stitchkit repro`: `dvc repro` with the out-of-date stages running side by side on Ray.

DVC runs stages one after another (treeverse/dvc#755). Here the plan, what is out of
date and all bookkeeping come from DVC itself (stitchkit.pipeline.dvc_stages); this
module only schedules. A stage whose upstream stages are committed is ready; whenever
the cluster has a free slot (compute.cpu_threads cores), the ready stage that heads the
costliest chain of work starts, as a Ray task with the resources it needs (costs: the
FLOPs of stitchkit.pipeline.stage_cost; ranks: stitchkit.pipeline.critical_path), before
the driver commits the stage that freed the slot: committing (outputs into the cache,
the run cache) and preparing the stages it unblocks take the driver seconds, during
which the slot would stand idle. Finished stages are committed one at a time; their
dvc.lock entries are written together at most every LOCK_WRITE_S while stages run (each
write parses and rewrites the whole lock: seconds of the driver's CPU for a suite's). A
failed stage is retried once; stages that do not depend on it go on. Whatever was
committed is written on Ctrl-C, a killed worker or a failure, so a rerun continues where
the last one stopped.
"""

import json
import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from stitchkit.common.compute import compute_settings
from stitchkit.common.errors import UserError
from stitchkit.common.io import write_json
from stitchkit.common.strict_yaml import load_yaml
from stitchkit.pipeline import dvc_stages
from stitchkit.pipeline.critical_path import stage_ranks
from stitchkit.pipeline.stage_cost import stage_cost

# stages that compute on a GPU when the cluster has one (all others are CPU-only)
GPU_STAGE_KINDS = frozenset({"train", "robustness", "stitch", "subset", "similarity"})
ATTEMPTS = 2
ERROR_LINES = 5
CANCEL_WAIT_S = 60  # how long Ctrl-C waits for running stages to stop, asked, then killed
DURATIONS = "durations.json"  # each stage's last wall time, for benchmarks/dag_schedule.py
LOCK_WRITE_S = 60.0  # while stages run, committed stages' dvc.lock entries wait this long


@dataclass
class Outcome:
    """How the run ended: stages run, skipped (up to date or run-cached) and failed."""

    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # stage -> its last error lines
    not_run: list[str] = field(default_factory=list)  # downstream of a failure
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each stage run

    @property
    def ok(self) -> bool:
        return not self.failed


def run_stage_command(cmd: dvc_stages.StageCommand, log_path: str) -> tuple[int, float]:
    """On a worker: run a stage's command lines (stitchkit.pipeline.stage_process) with their
    output in ``log_path``; return the exit status and the wall time."""
    from stitchkit.pipeline import stage_process

    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    return stage_process.run_lines(cmd.argv_list, cmd.cwd, cmd.env, log_path)


def _last_lines(path: Path, n: int = ERROR_LINES) -> str:
    if not path.exists():
        return "(no output)"
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return "\n".join(lines[-n:]) or "(no output)"


def read_params(params_file: Path) -> dict:
    """params.yaml as a dict (the stages check its contents themselves)."""
    params = load_yaml(params_file) if params_file.exists() else {}
    return params if isinstance(params, dict) else {}


def stage_cpus(params: dict) -> int:
    """The cores each stage reserves: `compute.cpu_threads`."""
    return compute_settings(params).cpu_threads


def stage_flops(params: dict, address: str) -> float:
    """The FLOPs of the stage at ``address``, or 0 where its params do not validate
    (the stage itself then reports what is wrong)."""
    try:
        return stage_cost(params, address).flops
    except UserError:
        return 0.0


def record_durations(path: Path, seconds: dict[str, float]) -> None:
    """Merge this run's stage wall times into ``path`` (written atomically)."""
    known = json.loads(path.read_text()) if path.exists() else {}
    write_json(path, {**known, **{name: round(t, 2) for name, t in seconds.items()}})


class Scheduler:
    """Runs a dvc_stages.Plan on a connected Ray: dependencies first, in parallel."""

    def __init__(
        self,
        repo,
        plan: dvc_stages.Plan,
        force: bool,
        cpus: int,
        gpus: int,
        slots: int,
        ranks: dict,
    ):
        """Run ``plan`` with ``cpus`` cores a stage and, on a cluster of ``gpus`` GPUs,
        one GPU for each stage of GPU_STAGE_KINDS: at most ``slots`` stages (and ``gpus``
        GPU stages) submitted at once, ready stages highest ``ranks`` (stage -> rank)
        first."""
        import ray

        self.ray, self.repo, self.plan, self.force = ray, repo, plan, force
        self.logs = dvc_stages.log_dir(repo)
        self.remote = ray.remote(max_retries=0)(run_stage_command)
        self.cpus, self.gpus, self.slots, self.ranks = cpus, gpus, slots, ranks
        self.ready: list = []  # to run, waiting for a free slot
        self.done: set = set()  # committed or up to date
        self.unwritten: list = []  # committed, their dvc.lock entries not yet written
        self.lock_written_at = time.monotonic()
        self.blocked: set = set()  # failed, or downstream of a failure
        self.running: dict = {}  # ray ObjectRef -> (stage, attempt)
        self.waiting = deque(plan.stages)
        self.outcome = Outcome()
        self.state = ""

    def run(self) -> Outcome:
        bar = tqdm(total=len(self.plan.stages), desc="stages", unit="stage", smoothing=0)
        self.bar = bar
        try:
            while self.waiting or self.ready or self.running:
                self._promote_waiting()
                self._submit_ready()
                if self.running:
                    finished, _ = self.ray.wait(list(self.running), num_returns=1, timeout=1.0)
                    ended = [(ref, self.running.pop(ref)) for ref in finished]
                    self._submit_ready()  # a freed slot first, then the driver's commits
                    for ref, entry in ended:
                        self._finish(ref, *entry)
                self._write_lock(due=not self.running)
                self._show()
        except KeyboardInterrupt:
            self._cancel_running()
            raise
        finally:
            self._write_lock(due=True)
            bar.close()
        return self.outcome

    def _write_lock(self, due: bool) -> None:
        """Write the committed stages' dvc.lock entries when ``due`` or LOCK_WRITE_S after
        the last write."""
        if self.unwritten and (due or time.monotonic() - self.lock_written_at >= LOCK_WRITE_S):
            dvc_stages.write_lock(self.repo, self.unwritten)
            self.unwritten = []
            self.lock_written_at = time.monotonic()

    def _cancel_running(self) -> None:
        """Stop running stages and wait until each task has ended: its worker kills the
        stage's processes before it ends the task (stage_process), so none outlives a
        Ray shut down next. A worker that does not end its task within CANCEL_WAIT_S is
        killed, its stage's first process with it."""
        for force in (False, True):
            refs = list(self.running)
            for ref in refs:
                self.ray.cancel(ref, force=force)
            if refs:
                ended, _ = self.ray.wait(refs, num_returns=len(refs), timeout=CANCEL_WAIT_S)
                for ref in ended:
                    self.running.pop(ref)

    def _promote_waiting(self) -> None:
        """Move the waiting stages whose upstream stages are done to ``ready`` (or to done,
        where DVC finds them up to date or restores them from the run cache)."""
        for _ in range(len(self.waiting)):
            stage = self.waiting.popleft()
            upstream = self.plan.upstream[stage]
            if any(u in self.blocked for u in upstream):
                self.blocked.add(stage)
                self.outcome.not_run.append(stage.addressing)
                self.bar.update()
            elif all(u in self.done for u in upstream):
                state = dvc_stages.prepare(self.repo, stage, upstream, self.force)
                if state == dvc_stages.RUN:
                    self.ready.append(stage)
                else:
                    if state == dvc_stages.RESTORED:
                        self.unwritten.append(stage)
                    self.done.add(stage)
                    self.outcome.skipped.append(stage.addressing)
                    self.bar.update()
            else:
                self.waiting.append(stage)
        self.ready.sort(key=self.ranks.get, reverse=True)

    def _submit_ready(self) -> None:
        """Fill free slots with ready stages, highest rank first."""
        for stage in list(self.ready):
            if len(self.running) >= self.slots:
                break
            on_gpu = sum(self._on_gpu(s) for s, _, _ in self.running.values())
            if not (self._on_gpu(stage) and on_gpu >= self.gpus):
                self.ready.remove(stage)
                self._submit(stage, attempt=1)

    def _on_gpu(self, stage) -> bool:
        return bool(self.gpus) and stage.addressing.split("@")[0] in GPU_STAGE_KINDS

    def _submit(self, stage, attempt: int) -> None:
        options = {"num_cpus": self.cpus}
        if self._on_gpu(stage):
            options["num_gpus"] = 1
        log = self.logs / f"{stage.addressing.replace('/', '_')}.log"
        log.unlink(missing_ok=True)  # its log appears when Ray starts the stage (_show)
        ref = self.remote.options(**options).remote(dvc_stages.command(stage), str(log))
        self.running[ref] = (stage, attempt, log)

    def _finish(self, ref, stage, attempt: int, log: Path) -> None:
        """Commit a stage that ended well; retry a failed one once, then block it."""
        try:
            status, seconds = self.ray.get(ref)
            error = f"exit status {status}" if status else None
        except self.ray.exceptions.RayError as exc:  # the worker died, or was killed
            error, seconds = f"{type(exc).__name__}", 0.0
        if error is None:
            dvc_stages.commit(self.repo, stage)
            self.unwritten.append(stage)
            self.done.add(stage)
            self.outcome.ran.append(stage.addressing)
            self.outcome.seconds[stage.addressing] = seconds
            self.bar.write(f"done   {stage.addressing} ({seconds:.1f} s)")
            self.bar.update()
        elif attempt < ATTEMPTS:
            self.bar.write(f"failed {stage.addressing} ({error}); retrying once")
            self._submit(stage, attempt + 1)
        else:
            self.blocked.add(stage)
            self.outcome.failed[stage.addressing] = f"{error}; log {log}:\n{_last_lines(log)}"
            self.bar.write(f"failed {stage.addressing} ({error}) twice; see {log}")
            self.bar.update()

    def _show(self) -> None:
        """Stages running (their log exists), queued for a slot or in Ray for resources,
        and waiting for upstream stages."""
        submitted = self.running.values()
        names = sorted(stage.addressing for stage, _, log in submitted if log.exists())
        queued = len(self.ready) + len(submitted) - len(names)
        state = (
            f"running {len(names)} [{', '.join(names)}], queued {queued}, "
            f"waiting {len(self.waiting)}"
        )
        if state != self.state:
            self.state = state
            self.bar.set_postfix_str(state)


def repro(targets: list[str], force: bool = False, address: str | None = None) -> Outcome:
    """Bring ``targets`` (default: every stage) up to date, on a local Ray (every core
    and GPU of this machine) or on the Ray cluster at ``address``."""
    import ray
    from dvc.repo import Repo

    repo = Repo(os.getcwd())
    params = read_params(Path(repo.root_dir) / "params.yaml")
    dvc_stages.check_loop_sections(Path(repo.root_dir), params)
    cpus = stage_cpus(params)
    plan = dvc_stages.plan(repo, targets)
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address, include_dashboard=False, log_to_driver=False, logging_level="WARNING"
        )
    try:
        node_cpus = [node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]]
        largest = max(node_cpus)
        if cpus > largest:
            raise UserError(
                f"compute.cpu_threads is {cpus} but the largest Ray node has {largest:g} "
                "CPUs; lower compute.cpu_threads in params.yaml"
            )
        gpus = int(ray.cluster_resources().get("GPU", 0))
        slots = sum(int(n // cpus) for n in node_cpus)
        ranks = stage_ranks(plan, lambda address: stage_flops(params, address))
        with repo.scm_context():
            outcome = Scheduler(repo, plan, force, cpus, gpus, slots, ranks).run()
        record_durations(dvc_stages.log_dir(repo) / DURATIONS, outcome.seconds)
        return outcome
    finally:
        repo.close()
        if started_here:
            ray.shutdown()
