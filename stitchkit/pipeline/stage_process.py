"""A stage's command lines as a Ray worker runs them, with torch imported only once.

A stage line of the form `python -m <module> [plain args]`, whose `python` is the
worker's own interpreter, runs in a process forked from a server that has imported
torch already (one server per worker process, itself a fresh single-threaded process):
importing torch takes about 2 s of CPU, a tenth of a quick-suite stage. The forked
process runs the module as `python -m` does (from the stage's directory, first on
sys.path, with its environment and arguments), so results are those of the plain
command. Any other line runs through the shell, as DVC runs it.

Each line runs in a session of its own. A worker waits for it in short polls, so that
Ray's request to stop the task (`ray.cancel`, a KeyboardInterrupt in the worker) lands:
the worker then kills the line's whole process group (the stage's own children
included) before the task ends. Where a worker dies instead, its server dies with it, and
a line's first process with its parent.
"""

import atexit
import contextlib
import ctypes
import json
import os
import re
import runpy
import select
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Iterable
from pathlib import Path

POLL_S = 0.5  # how often a waiting worker lets a pending KeyboardInterrupt land
PRELOADED = ("torch",)  # what the server imports once (not the project: it is per checkout)
WORKER_ENV = ("CUDA_VISIBLE_DEVICES",)  # set by Ray per task in the worker's environment
_PLAIN_TOKEN = re.compile(r"[\w.@/=:+,-]+")  # nothing a shell would expand or split
_server: subprocess.Popen | None = None  # this worker's server, started on first use
_server_env: dict[str, str] | None = None  # the environment it was started in


def die_with_parent() -> None:
    """In a child process: end when the process that started it ends."""
    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def stop_group(pid: int) -> None:
    """Kill process ``pid`` and every process of the group it leads (those gone already:
    nothing)."""
    for kill in (os.killpg, os.kill):
        with contextlib.suppress(ProcessLookupError):
            kill(pid, signal.SIGKILL)


def python_module_call(line: str, env: dict[str, str]) -> tuple[str, list[str]] | None:
    """(module, args) if ``line`` is `python -m module args` with plain tokens and this
    interpreter as its `python` (looked up on the stage's PATH); else None."""
    tokens = line.split()
    if len(tokens) < 3 or tokens[1] != "-m" or not all(map(_PLAIN_TOKEN.fullmatch, tokens)):
        return None
    found = shutil.which(tokens[0], path=env.get("PATH", ""))
    if found is None or os.path.abspath(found) != os.path.abspath(sys.executable):
        return None
    return tokens[2], tokens[3:]


def _exit_status(exit: SystemExit) -> int:
    if exit.code is None or isinstance(exit.code, int):
        return exit.code or 0
    print(exit.code, file=sys.stderr)
    return 1


def _run_module(module: str, args: list[str], cwd: str, env: dict, log_path: str) -> int:
    """In the forked process: be `python -m module args` run from ``cwd`` (leading a
    session of its own); its status."""
    die_with_parent()
    os.setsid()
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    null, log = os.open(os.devnull, os.O_RDONLY), os.open(log_path, os.O_WRONLY | os.O_APPEND)
    for fd, target in ((null, 0), (log, 1), (log, 2)):
        os.dup2(fd, target)
    os.close(null)
    os.close(log)
    sys.path[:] = [cwd, *(p for p in sys.path if p not in ("", cwd))]
    # this module came from the worker's path; the stage imports the checkout's own code
    for name in [m for m in sys.modules if m.split(".")[0] in ("stitchkit", "stages")]:
        del sys.modules[name]
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        status = 0
    except SystemExit as exit:
        status = _exit_status(exit)
    except BaseException:
        traceback.print_exc()
        status = 1
    atexit._run_exitfuncs()  # as at the interpreter's exit
    sys.stdout.flush()
    sys.stderr.flush()
    return status


def serve() -> None:
    """The server: import PRELOADED, then per request line (JSON: module, args, cwd, env,
    log) fork a process that runs it, and answer with its process id, then its exit
    status, a line each."""
    for name in PRELOADED:
        __import__(name)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            os._exit(_run_module(**request))
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)


def _server_for(env: dict[str, str]) -> subprocess.Popen:
    """This worker's server, started in the stage's environment (libraries read some of
    it when imported, e.g. OpenMP its thread count; Ray sets OMP_NUM_THREADS in its
    workers, which would change a stage's floats), restarted if that changes."""
    global _server, _server_env
    env = {k: v for k, v in env.items() if k != "DVC_STAGE"}
    if _server is None or _server.poll() is not None or env != _server_env:
        if _server is not None and _server.poll() is None:
            _server.stdin.close()
            _server.wait()
        package_root = str(Path(__file__).resolve().parents[2])  # holds stitchkit/
        path = os.pathsep.join(filter(None, (package_root, env.get("PYTHONPATH"))))
        _server = subprocess.Popen(
            [
                sys.executable,
                "-P",
                "-c",
                "from stitchkit.pipeline.stage_process import serve; serve()",
            ],
            env=env | {"PYTHONPATH": path},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent,
        )
        _server_env = env
    return _server


def _answer(server: subprocess.Popen) -> int | None:
    """The server's next answer line, read a byte at a time from its pipe (no buffer
    hides a line from select) in polls of POLL_S; None if the server died."""
    fd, line = server.stdout.fileno(), b""
    while not line.endswith(b"\n"):
        if select.select([fd], [], [], POLL_S)[0]:
            byte = os.read(fd, 1)
            if not byte:
                return None
            line += byte
    return int(line)


def _forked(module: str, args: list[str], cwd: str, env: dict, log_path: str) -> int:
    server = _server_for(env)
    request = {"module": module, "args": args, "cwd": cwd, "env": env, "log_path": log_path}
    server.stdin.write(json.dumps(request) + "\n")
    server.stdin.flush()
    pid = None
    try:
        pid = _answer(server)
        status = None if pid is None else _answer(server)
    except BaseException:  # stopped by Ray: the stage's processes and the server go too
        if pid is not None:
            stop_group(pid)
        server.kill()  # _server_for starts a new one
        server.wait()
        raise
    return -signal.SIGKILL if status is None else status  # no answer: the server was killed


def _shell(argv: tuple[str, ...], cwd: str, env: dict[str, str], log_path: str) -> int:
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            close_fds=True,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    try:
        while True:
            with contextlib.suppress(subprocess.TimeoutExpired):
                return process.wait(timeout=POLL_S)  # polls: a KeyboardInterrupt lands
    except BaseException:  # stopped by Ray: the line's processes go too
        stop_group(process.pid)
        process.wait()
        raise


def _run_line(argv: tuple[str, ...], cwd: str, env: dict[str, str], log_path: str) -> int:
    """One command line, ``argv`` = (shell, "-c", line) as DVC runs it."""
    call = python_module_call(argv[-1], env)
    if call is not None:
        return _forked(*call, cwd, env, log_path)
    return _shell(argv, cwd, env, log_path)


def run_lines(
    argv_list: Iterable[tuple[str, ...]], cwd: str, env: dict[str, str], log_path: str
) -> tuple[int, float]:
    """Run a stage's command lines in order (stopping at the first failure) with their
    output in ``log_path``; return the exit status (negative: killed by that signal) and
    the wall time. The worker's accelerator assignment (Ray sets CUDA_VISIBLE_DEVICES in
    the worker) overrides the driver's."""
    started = time.perf_counter()
    env = env | {k: os.environ[k] for k in WORKER_ENV if k in os.environ}
    open(log_path, "wb").close()
    for argv in argv_list:
        status = _run_line(argv, cwd, env, log_path)
        if status != 0:
            return status, time.perf_counter() - started
    return 0, time.perf_counter() - started
