"""`stitchkit repro` on small DVC repositories whose stages are shell one-liners:
the same outputs and dvc.lock as `dvc repro`, independent stages side by side, one
retry, failures that stop only their dependents, and a rerun that continues."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from stitchkit.cli import main
from stitchkit.common.errors import UserError
from stitchkit.pipeline.ray_repro import repro

PY = sys.executable


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def script(body: str) -> str:
    """A stage command: ``body`` run by this Python (quoted for the shell)."""
    return f"{PY} -c '{body}'"


def make_repo(root: Path, stages: dict) -> Path:
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([Path(PY).parent / "dvc", "init", "-q"], cwd=root, check=True)
    write(root / "params.yaml", yaml.safe_dump({"compute": {"cpu_threads": 1}, "scale": 3}))
    write(root / "dvc.yaml", yaml.safe_dump({"stages": stages}, sort_keys=False))
    return root


# a diamond (source -> left, right -> joined) beside an independent stage
DIAMOND = {
    "source": {
        "cmd": script('open("source.txt", "w").write("1 2 3")'),
        "outs": ["source.txt"],
    },
    "left": {
        "cmd": script(
            'import yaml; s = yaml.safe_load(open("params.yaml"))["scale"]; '
            'open("left.txt", "w").write(str(s * sum(map(int, open("source.txt").read().split()))))'
        ),
        "deps": ["source.txt"],
        "params": ["scale"],
        "outs": ["left.txt"],
    },
    "right": {
        "cmd": script('open("right.txt", "w").write(open("source.txt").read()[::-1])'),
        "deps": ["source.txt"],
        "outs": ["right.txt"],
    },
    "joined": {
        "cmd": script(
            'import json; json.dump([open("left.txt").read(), open("right.txt").read()], '
            'open("joined.json", "w"))'
        ),
        "deps": ["left.txt", "right.txt"],
        "metrics": [{"joined.json": {"cache": False}}],
    },
    "alone": {"cmd": script('open("alone.txt", "w").write("x")'), "outs": ["alone.txt"]},
}


# one stage per entry of params.yaml's `items:`
PER_ITEM = {
    "per-item": {
        "foreach": "${items}",
        "do": {"cmd": script('open("${key}.txt", "w").write("x")'), "outs": ["${key}.txt"]},
    }
}


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def lock(repo: Path) -> dict:
    return yaml.safe_load((repo / "dvc.lock").read_text())["stages"]


def dvc(repo: Path, *args: str) -> str:
    result = subprocess.run(
        [Path(PY).parent / "dvc", *args], cwd=repo, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_same_outputs_and_lock_as_dvc_repro(tmp_path, local_ray, monkeypatch):
    ours = make_repo(tmp_path / "ours", DIAMOND)
    theirs = tmp_path / "theirs"
    shutil.copytree(ours, theirs)
    dvc(theirs, "repro")
    monkeypatch.chdir(ours)
    outcome = repro([])
    assert outcome.ok and sorted(outcome.ran) == sorted(DIAMOND)
    for name in ("source.txt", "left.txt", "right.txt", "joined.json", "alone.txt"):
        assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name
    assert json.loads((ours / "joined.json").read_text()) == ["18", "3 2 1"]
    assert lock(ours) == lock(theirs)
    assert "up to date" in dvc(ours, "status")
    assert repro([]).ran == []  # nothing to do
    # a changed parameter reruns its stage and what depends on it, nothing else
    write(ours / "params.yaml", yaml.safe_dump({"compute": {"cpu_threads": 1}, "scale": 4}))
    assert sorted(repro([]).ran) == ["joined", "left"]
    assert json.loads((ours / "joined.json").read_text()) == ["24", "3 2 1"]
    # a target runs with its upstream only; --force reruns even unchanged stages
    assert sorted(repro(["right"], force=True).ran) == ["right", "source"]


MEET = """# mark that this stage started, wait up to a minute for the other's mark
import sys, time
from pathlib import Path

me, other = sys.argv[1:]
Path("marks").mkdir(exist_ok=True)
(Path("marks") / me).touch()
started = time.time()
while not (Path("marks") / other).exists() and time.time() - started < 60:
    time.sleep(0.1)
assert (Path("marks") / other).exists(), f"{other} did not start while {me} ran"
Path(f"{me}.txt").write_text("met")
"""

FLAKY = """# fail on the first attempt only (attempts are counted in a file)
from pathlib import Path

attempts = Path("attempts")
n = int(attempts.read_text()) + 1 if attempts.exists() else 1
attempts.write_text(str(n))
assert n > 1, "first attempt"
Path("flaky.txt").write_text("ok")
"""


def test_independent_stages_run_at_the_same_time(tmp_path, local_ray, monkeypatch):
    """Each stage waits for the other to start: one after the other, the first fails."""
    stages = {
        me: {"cmd": f"{PY} meet.py {me} {other}", "deps": ["meet.py"], "outs": [f"{me}.txt"]}
        for me, other in (("a", "b"), ("b", "a"))
    }
    repo = make_repo(tmp_path / "repo", stages)
    write(repo / "meet.py", MEET)
    monkeypatch.chdir(repo)
    outcome = repro([])
    assert outcome.ok, outcome.failed
    assert (repo / "a.txt").read_text() == (repo / "b.txt").read_text() == "met"


def test_progress_tells_running_stages_from_those_queued_for_cores(
    tmp_path, local_ray, monkeypatch, capsys
):
    """Three independent stages of 2 threads each on a 2-core Ray: one runs at a time,
    and the progress line says so rather than counting the queued ones as running."""
    stages = {
        name: {
            "cmd": script(f'import time; time.sleep(1.5); open("{name}.txt", "w").write("")'),
            "outs": [f"{name}.txt"],
        }
        for name in ("p", "q", "r")
    }
    repo = make_repo(tmp_path / "repo", stages)
    write(repo / "params.yaml", yaml.safe_dump({"compute": {"cpu_threads": 2}}))
    monkeypatch.chdir(repo)
    assert repro([]).ok
    progress = capsys.readouterr().err
    assert "running 1 [" in progress and "queued 2" in progress
    assert "running 2" not in progress and "running 3" not in progress


def test_failure_retries_once_stops_dependents_and_a_rerun_continues(
    tmp_path, local_ray, monkeypatch
):
    stages = {
        "flaky": {"cmd": f"{PY} flaky.py", "outs": ["flaky.txt"]},
        "broken": {
            "cmd": script('import sys; print("step 1"); sys.exit("boom: input missing")'),
            "outs": ["broken.txt"],
        },
        "after": {
            "cmd": script('open("after.txt", "w").write(open("broken.txt").read())'),
            "deps": ["broken.txt"],
            "outs": ["after.txt"],
        },
    }
    repo = make_repo(tmp_path / "repo", stages)
    write(repo / "flaky.py", FLAKY)
    monkeypatch.chdir(repo)
    outcome = repro([])
    assert outcome.ran == ["flaky"] and (repo / "attempts").read_text() == "2"
    assert list(outcome.failed) == ["broken"] and outcome.not_run == ["after"]
    assert "boom: input missing" in outcome.failed["broken"]
    assert set(lock(repo)) == {"flaky"}  # what finished is recorded
    stages["broken"]["cmd"] = script('open("broken.txt", "w").write("fixed")')
    write(repo / "dvc.yaml", yaml.safe_dump({"stages": stages}, sort_keys=False))
    outcome = repro([])
    assert outcome.ok and sorted(outcome.ran) == ["after", "broken"]
    assert outcome.skipped == ["flaky"] and (repo / "after.txt").read_text() == "fixed"


def test_more_threads_per_stage_than_any_node_has_is_one_clear_error(
    tmp_path, local_ray, monkeypatch
):
    repo = make_repo(tmp_path / "repo", {"alone": DIAMOND["alone"]})
    write(repo / "params.yaml", yaml.safe_dump({"compute": {"cpu_threads": 64}}))
    monkeypatch.chdir(repo)
    with pytest.raises(UserError, match="lower compute.cpu_threads"):
        repro([])


def test_a_removed_section_that_dvc_yaml_loops_over_is_one_clear_error(
    tmp_path, local_ray, monkeypatch
):
    """`-S '~section'` leaves DVC unable to parse a `foreach: ${section}`: say so, and
    how to empty the section instead; empty, it runs."""
    repo = make_repo(tmp_path / "repo", PER_ITEM)
    monkeypatch.chdir(repo)
    with pytest.raises(UserError, match=r"no `items:` mapping.*`items: \{\}`"):
        repro([])
    write(repo / "params.yaml", yaml.safe_dump({"compute": {"cpu_threads": 1}, "items": {}}))
    assert repro([]).ok
    write(repo / "params.yaml", yaml.safe_dump({"compute": {"cpu_threads": 1}, "items": {"a": 1}}))
    assert repro([]).ran == ["per-item@a"] and (repo / "a.txt").read_text() == "x"


def test_an_override_that_removes_a_looped_section_drops_its_stages(
    tmp_path, local_ray, monkeypatch
):
    repo = make_repo(tmp_path / "repo", PER_ITEM)
    write(
        repo / "conf/config.yaml",
        yaml.safe_dump({"compute": {"cpu_threads": 1}, "items": {"a": 1}}),
    )
    dvc(repo, "config", "hydra.enabled", "true")
    monkeypatch.chdir(repo)
    with pytest.raises(SystemExit) as done:
        main(["repro", "-S", "~items"])
    assert done.value.code == 0
    assert yaml.safe_load((repo / "params.yaml").read_text())["items"] == {}
    assert not (repo / "a.txt").exists()
    with pytest.raises(SystemExit) as done:
        main(["repro", "-S", "+items.b=2"])
    assert done.value.code == 0
    assert (repo / "a.txt").exists() and (repo / "b.txt").exists()


def test_command_exit_status_names_the_failure(tmp_path, local_ray, monkeypatch, capsys):
    broken = {"cmd": script('import sys; sys.exit("boom: input missing")'), "outs": ["b.txt"]}
    repo = make_repo(tmp_path / "repo", {"broken": broken})
    monkeypatch.chdir(repo)
    with pytest.raises(SystemExit) as failed:
        main(["repro"])
    err = capsys.readouterr().err
    assert failed.value.code == 1
    assert "error: stage broken failed: exit status 1" in err and "boom: input missing" in err
    write(repo / "params.yaml", yaml.safe_dump({"compute": {"cpu_threads": 0}}))
    with pytest.raises(SystemExit) as refused:
        main(["repro"])
    err = capsys.readouterr().err
    assert refused.value.code == 2
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        "error: compute.cpu_threads: input should be greater than 0, got 0"
    ]


STAGE_MODULE = """# what this stage was given, and whether torch was imported before it started
import os, sys
from pathlib import Path

given = [*sys.argv[1:], os.environ["DVC_STAGE"], str("torch" in sys.modules)]
import torch  # its default thread count comes from the environment it was imported in

Path("out.txt").write_text(" ".join([*given, str(torch.get_num_threads())]))
if sys.argv[1] == "fail":
    raise RuntimeError("boom in a module")
"""


def test_python_module_stages_fork_from_a_server_with_torch_imported(
    tmp_path, local_ray, monkeypatch
):
    stages = {
        "mod": {"cmd": f"{PY} -m stagemod hello", "deps": ["stagemod.py"], "outs": ["out.txt"]}
    }
    repo = make_repo(tmp_path / "repo", stages)
    write(repo / "stagemod.py", STAGE_MODULE)
    monkeypatch.chdir(repo)
    assert repro([]).ok
    *forked, forked_threads = (repo / "out.txt").read_text().split()
    assert forked == ["hello", "mod", "True"]  # arguments, environment, torch imported
    # a line the shell must read runs through the shell, as DVC runs it: a fresh process
    stages["mod"]["cmd"] = f"{PY} -m stagemod hello && true"
    write(repo / "dvc.yaml", yaml.safe_dump({"stages": stages}, sort_keys=False))
    assert repro([]).ok
    *fresh, fresh_threads = (repo / "out.txt").read_text().split()
    assert fresh == ["hello", "mod", "False"]
    # torch was imported in the stage's environment, not the Ray worker's (whose
    # OMP_NUM_THREADS is the task's CPUs): the same default threads as a fresh process
    assert forked_threads == fresh_threads
    stages["mod"]["cmd"] = f"{PY} -m stagemod fail"
    write(repo / "dvc.yaml", yaml.safe_dump({"stages": stages}, sort_keys=False))
    outcome = repro([])
    assert list(outcome.failed) == ["mod"] and "exit status 1" in outcome.failed["mod"]
    assert "RuntimeError: boom in a module" in outcome.failed["mod"]


SLOW = """# record this process's id, then run for a minute
import os, time
from pathlib import Path

Path("slow.pid").write_text(str(os.getpid()))
time.sleep(60)
Path("slow.txt").write_text("slow")
"""


# through the shell, as the second process of a pipeline, forked from the server
@pytest.mark.parametrize("slow", ["slow.py", "slow.py | cat", "-m slow"])
def test_ctrl_c_keeps_what_was_recorded_and_stops_running_stages(tmp_path, slow):
    """The worker kills the stage's processes before its task ends, so none is left
    running once the driver has exited (not left to Ray's kill of the worker, which
    lands later, or on a loaded machine not within 30 s)."""
    stages = {
        "fast": {"cmd": script('open("fast.txt", "w").write("fast")'), "outs": ["fast.txt"]},
        "slow": {"cmd": f"{PY} {slow}", "deps": ["fast.txt"], "outs": ["slow.txt"]},
    }
    repo = make_repo(tmp_path / "repo", stages)
    write(repo / "slow.py", SLOW)
    # as from a terminal: a runner started in the background (`cmd &`) passes SIGINT on
    # ignored, and Python then keeps ignoring it
    driver = subprocess.Popen(
        [Path(PY).parent / "stitchkit", "repro"],
        cwd=repo,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while not (repo / "slow.pid").exists() and time.time() < deadline:
        time.sleep(0.2)
    pid = int((repo / "slow.pid").read_text())
    driver.send_signal(signal.SIGINT)
    assert driver.wait(timeout=300) == 130  # Ray shuts down slowly on a loaded machine
    assert "rerun to continue" in driver.stderr.read()
    assert set(lock(repo)) == {"fast"}
    deadline = time.time() + 5  # SIGKILL sent: it only has to be delivered
    while running(pid) and time.time() < deadline:
        time.sleep(0.2)
    assert not running(pid), "the interrupted stage's process still runs"


# as a Ray worker runs a stage: `ray.cancel` raises KeyboardInterrupt in its main thread
# (_thread.interrupt_main: no signal, so a blocked wait would not see it)
STOPPED_BY_RAY = """import _thread, os, sys, threading, time
from pathlib import Path
from stitchkit.pipeline.stage_process import run_lines

def interrupt_once_slow_runs():
    while not Path("slow.pid").exists():
        time.sleep(0.1)
    _thread.interrupt_main()

threading.Thread(target=interrupt_once_slow_runs, daemon=True).start()
try:
    run_lines([("/bin/sh", "-c", sys.argv[1])], os.getcwd(), dict(os.environ), "stage.log")
except KeyboardInterrupt:
    pid = int(Path("slow.pid").read_text())
    time.sleep(1)  # SIGKILL sent: it only has to be delivered
    stat = Path(f"/proc/{pid}/stat")
    print(stat.read_text().rsplit(")", 1)[1].split()[0] if stat.exists() else "gone")
"""


@pytest.mark.parametrize("slow", ["slow.py", "slow.py | cat", "-m slow"])
def test_a_stopped_stage_kills_its_processes_before_the_task_ends(tmp_path, slow):
    """The worker itself, still alive, has killed every process of the stage (the
    second of a pipeline included) by the time the interrupt ends its task."""
    write(tmp_path / "slow.py", SLOW)
    write(tmp_path / "worker.py", STOPPED_BY_RAY)
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run(
        [PY, "worker.py", f"{PY} {slow}"],
        cwd=tmp_path,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=50,  # slow.py ends by itself after 60 s
    )
    assert result.stdout.split() in (["gone"], ["Z"]), result.stderr  # Z: dead, not yet reaped


def running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (Linux)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_free_core_goes_to_the_stage_that_heads_the_longest_chain(
    tmp_path, local_ray, monkeypatch
):
    """One stage at a time (2 threads on 2 cores): `head`, listed last in dvc.yaml, runs
    first because `tail` waits on it; the stages log the order in which they ran."""

    def logged(name, deps=()):
        body = f'open("order.txt", "a").write("{name} "); open("{name}.txt", "w").write("")'
        return {"cmd": script(body), "deps": list(deps), "outs": [f"{name}.txt"]}

    stages = {
        "first": logged("first"),
        "second": logged("second"),
        "head": logged("head"),
        "tail": logged("tail", ["head.txt"]),
    }
    repo = make_repo(tmp_path / "repo", stages)
    write(repo / "params.yaml", yaml.safe_dump({"compute": {"cpu_threads": 2}}))
    monkeypatch.chdir(repo)
    assert repro([]).ok
    assert (repo / "order.txt").read_text().split()[0] == "head"


def test_a_freed_slot_takes_the_next_stage_before_the_driver_commits(
    tmp_path, local_ray, monkeypatch
):
    """One stage at a time: while the driver commits `first`, `second` already runs (the
    commit waits up to 30 s for it to start; committing first would leave the core idle)."""
    from stitchkit.pipeline import dvc_stages

    stages = {
        name: {"cmd": script(f'open("{name}.txt", "w").write("")'), "outs": [f"{name}.txt"]}
        for name in ("first", "second")
    }
    repo = make_repo(tmp_path / "repo", stages)
    write(repo / "params.yaml", yaml.safe_dump({"compute": {"cpu_threads": 2}}))
    monkeypatch.chdir(repo)
    commit, seen_running = dvc_stages.commit, []

    def commit_after_a_look(dvc_repo, stage):
        other = "second" if stage.addressing == "first" else "first"
        deadline = time.monotonic() + 30
        while not (repo / f"{other}.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        seen_running.append((repo / f"{other}.txt").exists())
        commit(dvc_repo, stage)

    monkeypatch.setattr(dvc_stages, "commit", commit_after_a_look)
    assert repro([]).ok
    assert seen_running == [True, True]


def test_a_stages_python_is_the_interpreter_running_stitchkit(tmp_path, local_ray, monkeypatch):
    """`.venv/bin/stitchkit repro` without the venv on PATH still runs every stage's
    `python` in the venv (a stage on the system's Python finds no torch)."""
    line = "import sys; open('which.txt', 'w').write(sys.executable)"
    stages = {"which": {"cmd": f'python -c "{line}"', "outs": ["which.txt"]}}
    repo = make_repo(tmp_path / "repo", stages)
    monkeypatch.chdir(repo)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert repro([]).ok
    assert Path((repo / "which.txt").read_text()).parent == Path(sys.executable).parent
